"""The miniature world: reproducible, split-disjoint, labelled as an independent verifier says,
and taught by a teacher whose output parses, is right when noiseless and wrong as often as told."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from spct.core.parse import parse_judgment
from spct.core.vote import is_correct, sample_orders, unshuffle
from spct.miniature.teacher import TeacherNoise, teacher_judgment
from spct.miniature.verify import check_constraint, evaluate, verify
from spct.miniature.world import CLOSERS, SENTENCE_WORDS, TOPICS, WorldConfig, generate

SPLITS = ("train", "validation", "test")
PER_SPLIT = 3000
FAMILIES = ("arithmetic", "constraints", "grounded", "safety")


@pytest.fixture(scope="module")
def world() -> dict[str, list]:
    return {split: generate(PER_SPLIT, split, seed=0) for split in SPLITS}


@pytest.fixture(scope="module")
def items(world: dict[str, list]) -> list:
    return [item for split in SPLITS for item in world[split]]


def n_words(text: str) -> int:
    return len(text.split())


def score_range(item) -> tuple[int, int]:
    return (0, 1) if len(item.responses) == 1 else (1, 10)


def test_generator_is_deterministic():
    def dump(items):
        return [item.model_dump() for item in items]

    assert dump(generate(200, "train", seed=1)) == dump(generate(200, "train", seed=1))
    assert dump(generate(200, "train", seed=1)) != dump(generate(200, "train", seed=2))


def test_splits_never_share_a_query(world):
    queries = {split: {item.query for item in world[split]} for split in SPLITS}
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not queries[a] & queries[b], (a, b)
    for split in SPLITS:
        assert all(item.meta["split"] == split and f"-{split}-" in item.id for item in world[split])
    with pytest.raises(ValueError):
        generate(1, "dev", seed=0)


def test_every_family_and_size_is_present(world):
    for split in SPLITS:
        assert {item.meta["family"] for item in world[split]} == set(FAMILIES)
        assert {len(item.responses) for item in world[split]} == {1, 2, 3, 4}


def test_config_weights_are_followed():
    cfg = WorldConfig(families={"arithmetic": 1.0, "safety": 0.0}, n_responses={3: 1.0})
    items = generate(50, "train", seed=0, config=cfg)
    assert {(item.meta["family"], len(item.responses)) for item in items} == {("arithmetic", 3)}


def test_labels_have_one_best_or_a_rating(items):
    for item in items:
        good = item.meta["verdicts"]
        assert len(set(item.responses)) == len(item.responses)
        if len(item.responses) == 1:
            assert item.best is None and item.rating == int(good[0])
        else:
            assert item.rating is None and good.count(True) == 1 and good[item.best]
    singles = [item.rating for item in items if item.rating is not None]
    assert 0.45 < sum(singles) / len(singles) < 0.55
    positions = Counter(item.best for item in items if len(item.responses) == 4)
    assert set(positions) == {0, 1, 2, 3}


def test_every_label_agrees_with_the_verifier(items):
    disagree = [item.id for item in items if verify(item) != (item.best, item.rating)]
    assert not disagree


def test_texts_are_short(items):
    assert max(n_words(item.query) for item in items) <= 60
    assert max(n_words(r) for item in items for r in item.responses) <= 40


def test_arithmetic_distractors_are_near_misses(items):
    for item in (i for i in items if i.meta["family"] == "arithmetic"):
        truth = evaluate(item.meta["facts"]["expr"])
        for response, kind in zip(item.responses, item.meta["kinds"], strict=True):
            said = int(re.findall(r"-?\d+", response)[-1])
            if kind == "correct":
                assert said == truth
            elif kind == "digit_swap":
                assert sorted(str(said)) == sorted(str(truth)) and said != truth
            elif kind != "wrong_operation":
                assert abs(said - truth) in (1, 10), (item.id, kind)


@pytest.mark.parametrize("expr", ["__import__('os')", "(1).real", "True + 1", "2 ** 100", "[x for x in []]"])
def test_verifier_evaluates_only_small_arithmetic(expr):
    assert evaluate("len('abc') * 3 + sum([1, 2]) - 7 // 2 % 5") == 9 + 3 - 3
    with pytest.raises(ValueError):
        evaluate(expr)


def test_topic_banks_keep_the_promises_compose_relies_on():
    for topic in TOPICS:
        assert all(len(s.split()) <= SENTENCE_WORDS for s in topic.sentences), topic.ask
        assert not any(s.lower().rstrip(".").split()[-1] in CLOSERS for s in topic.sentences)
        for word in topic.keywords:
            assert sum(word in re.findall(r"[a-z]+", s.lower()) for s in topic.sentences) == 3, word


def test_constraint_distractors_break_exactly_one_constraint(items):
    for item in (i for i in items if i.meta["family"] == "constraints"):
        constraints = item.meta["facts"]["constraints"]
        for response, good in zip(item.responses, item.meta["verdicts"], strict=True):
            broken = [c["type"] for c in constraints if not check_constraint(c["type"], c["value"], response)[0]]
            assert len(broken) == (0 if good else 1), (item.id, response, broken)


def test_grounded_and_safety_distractors_are_of_the_kinds_asked(items):
    kinds = Counter(k for item in items if item.meta["family"] in ("grounded", "safety") for k in item.meta["kinds"])
    assert {"wrong_sentence", "altered_detail", "refusal", "compliance", "partial"} <= set(kinds)
    harmful = [item.meta["facts"]["harmful"] for item in items if item.meta["family"] == "safety"]
    assert 0.4 < sum(harmful) / len(harmful) < 0.6


def _judge(items: list, noise: TeacherNoise, orders: int = 1, seed: int = 0):
    """(item, order, text, parsed) for `orders` random shown orders of every item."""
    rng = random.Random(seed)
    for item in items:
        for order in sample_orders(len(item.responses), orders, seed, item.id):
            text = teacher_judgment(item, order, rng, noise)
            yield item, order, text, parse_judgment(text, len(order), score_range=score_range(item))


def test_teacher_output_parses_in_the_paper_format(world):
    for item, order, text, parsed in _judge(world["train"], TeacherNoise()):
        assert parsed.failure is None, (item.id, text)
        assert len(parsed.principles) >= 2 and all(p.weight for p in parsed.principles)
        for p in range(1, len(order) + 1):
            assert f"Response {p} " in parsed.critique
        assert n_words(text) <= 120


def test_noiseless_teacher_is_always_correct(world):
    for item, order, text, parsed in _judge(world["validation"], TeacherNoise.none()):
        assert is_correct(unshuffle(parsed.scores, order), item), (item.id, order, text)
        weights = [p.weight for p in parsed.principles]
        assert weights == sorted(weights, reverse=True)


def test_noisy_teacher_errs_as_often_as_configured(world):
    noise = TeacherNoise(wrong_check=0.15, invert=0.05, misweight=0.2)
    judged = list(_judge(world["test"], noise, orders=2, seed=1))
    wrong = [not is_correct(unshuffle(parsed.scores, order), item) for item, order, _, parsed in judged]
    misweighted = [
        [p.weight for p in parsed.principles] != sorted((p.weight for p in parsed.principles), reverse=True)
        for *_, parsed in judged
    ]
    assert sum(wrong) / len(wrong) == pytest.approx(noise.error_rate, abs=0.02)
    assert sum(misweighted) / len(misweighted) == pytest.approx(noise.misweight, abs=0.02)
    for n in (1, 2):  # the error rate holds for single responses and for lists
        subset = [w for w, (item, *_) in zip(wrong, judged, strict=True) if (len(item.responses) == 1) == (n == 1)]
        assert sum(subset) / len(subset) == pytest.approx(noise.error_rate, abs=0.03)
