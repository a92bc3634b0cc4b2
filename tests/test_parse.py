"""The parser reads untrusted model text: it must never raise, never misread, and say why it failed."""

import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spct.core import FAILURE_CODES, Principle, format_judgment, parse_judgment

ALPHABET = string.ascii_letters + string.digits + " ,.!?()%:-'\"\\{}[]#*\n"
FRAGMENTS = [
    "\\boxed{",
    "}",
    "{",
    "Scores:",
    "Analysis:",
    "Specific Criteria:",
    "(Weight: 30%)",
    "\\boxed{8, 7}",
    "[3, 4]",
    ",",
    "10",
    "-1",
    "11",
    "\n",
    "**",
    "###",
]


def check_contract(parsed, n, lo=1, hi=10):
    if parsed.scores is None:
        assert parsed.failure and parsed.failure.split(":")[0] in FAILURE_CODES
    else:
        assert parsed.failure is None
        assert len(parsed.scores) == n and all(lo <= s <= hi for s in parsed.scores)


@settings(max_examples=400)
@given(st.text(), st.integers(1, 5))
def test_arbitrary_text_never_crashes(text, n):
    check_contract(parse_judgment(text, n), n)
    check_contract(parse_judgment(text, n, lenient=True), n)


@settings(max_examples=400)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(ALPHABET, max_size=8), max_size=30), st.integers(1, 4))
def test_adversarial_fragments_never_crash(parts, n):
    text = "".join(parts)
    check_contract(parse_judgment(text, n), n)
    check_contract(parse_judgment(text, n, finish_reason="length", lenient=True), n)


principle_text = st.text(string.ascii_letters + " ", min_size=1, max_size=30).map(str.strip).filter(bool)
critique_text = st.text(string.ascii_letters + string.digits + " .,=+\n", max_size=200).map(str.strip)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(principle_text, st.none() | st.integers(1, 100)), max_size=5),
    critique_text,
    st.integers(1, 4).flatmap(lambda n: st.lists(st.integers(1, 10), min_size=n, max_size=n)),
)
def test_well_formed_judgment_round_trips(principles, critique, scores):
    assume(not critique[:1].isdigit())
    ps = [Principle(text=t, weight=w) for t, w in principles]
    parsed = parse_judgment(format_judgment(ps, critique, scores), len(scores))
    assert parsed.scores == scores
    assert parsed.principles == ps
    assert parsed.critique == critique


def test_paper_variants_read_the_last_box():
    assert parse_judgment("Analysis: ok.\n**Scores: \\boxed{8, 8}**", 2).scores == [8, 8]
    assert parse_judgment("draft \\boxed{1, 2}\n### Output: \\boxed{10, 7}", 2).scores == [10, 7]
    assert parse_judgment("Scores: \\boxed{ 3 ,9 }", 2).scores == [3, 9]


def test_paper_single_line_format():
    text = (
        "Specific Criteria: 1. Technical Accuracy (Weight: 30%); 2. Clarity (Weight: 70%).\n"
        "Analysis: Response 1 is right. Response 2 is vague.\nScores: \\boxed{9, 4}"
    )
    parsed = parse_judgment(text, 2)
    assert parsed.principles == [Principle(text="Technical Accuracy", weight=30), Principle(text="Clarity", weight=70)]
    assert parsed.critique == "Response 1 is right. Response 2 is vague."
    assert parsed.scores == [9, 4]


def test_failure_reasons_are_precise():
    def reason(text, n=2, **kw):
        return parse_judgment(text, n, **kw).failure.split(":")[0]

    assert reason("Scores: 8, 7") == "no_box"
    assert reason("Scores: 8, 7", finish_reason="length") == "truncated"
    assert reason("Scores: \\boxed{8, 7") == "truncated"
    assert reason("Scores: \\boxed{8, 7} then \\boxed{9,") == "truncated"
    assert reason("\\boxed{}") == "empty"
    assert reason("\\boxed{8, seven}") == "not_integer"
    assert reason("\\boxed{8.5, 7}") == "not_integer"
    assert reason("\\boxed{8, 7, 6}") == "wrong_count"
    assert reason("\\boxed{8, 11}") == "out_of_range"
    assert reason("\\boxed{0, 7}") == "out_of_range"
    # an earlier valid box is never used when the last one is bad: that would be a guess
    assert reason("\\boxed{8, 7} final: \\boxed{8}") == "wrong_count"


def test_lenient_mode_is_the_cards_extractor():
    assert parse_judgment("\\boxed{12, 0}", 2, lenient=True).scores == [10, 1]
    assert parse_judgment("Scores: [3, 4]", 2, lenient=True).scores == [3, 4]
    assert parse_judgment("\\boxed{7.6, 2}", 2, lenient=True).scores == [8, 2]
    assert parse_judgment("Scores: [3, 4]", 2).failure.startswith("no_box")


def test_binary_range():
    assert parse_judgment("Scores: \\boxed{1}", 1, score_range=(0, 1)).scores == [1]
    assert parse_judgment("Scores: \\boxed{0}", 1, score_range=(0, 1)).scores == [0]
    assert parse_judgment("Scores: \\boxed{7}", 1, score_range=(0, 1)).failure.startswith("out_of_range")
