"""The prompt holds the paper's sections, shows responses in the sampled order, and carries the
user's principles and the RFT hint."""

import pytest

from spct.core import Item, PromptTemplate

ITEM = Item(id="t", query="What is 47 + 38?", responses=["85", "75", "86"], best=0)


def content(template="pointwise", item=ITEM, order=(0, 1, 2), **kw):
    messages = PromptTemplate.load(template).render(item, list(order), **kw)
    assert [m["role"] for m in messages] == ["user"]
    return messages[0]["content"]


def test_paper_sections_and_response_markers():
    text = content(order=(2, 0, 1))
    for header in (
        "#### Conversation Context ####",
        "#### Responses to be Scored ####",
        "#### Output Format Requirements ####",
    ):
        assert header in text
    for criterion in ("Instruction Adherence", "Usefulness", "Level of Detail", "Relevance"):
        assert criterion in text
    shown = [
        text.index(f"[The Begin of Response {i}]\n{r}\n[The End of Response {i}]")
        for i, r in enumerate(["86", "85", "75"], 1)
    ]
    assert shown == sorted(shown)
    assert "\\boxed{x_1, ..., x_3}" in text
    assert "The best response is" not in text and "Required Principles" not in text


def test_user_principles_and_hint():
    text = content(order=(1, 2, 0), principles=("Never state a number without checking it.",), hint=True)
    assert "- Never state a number without checking it." in text
    assert text.endswith("The best response is: Response 3")  # the best (index 0) is shown third


def test_conversation_and_single_response():
    item = Item(
        id="c",
        query=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Add 2 and 2."},
        ],
        responses=["4"],
        rating=1,
    )
    text = content("binary", item, (0,), hint=True)
    assert "User: Hi\n\nAssistant: Hello!\n\nUser: Add 2 and 2." in text
    assert "\\boxed{x}" in text and text.endswith("The response is: correct")
    assert PromptTemplate.load("binary").score_range == (0, 1)
    with pytest.raises(ValueError, match="exactly one response"):
        content("binary")


def test_user_template_file(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text("Judge {{ responses|length }} answers to: {{ conversation }}")
    template = PromptTemplate.load(path)
    assert template.render(ITEM, [0, 1, 2])[0]["content"] == "Judge 3 answers to: User: What is 47 + 38?"
    assert template.digest != PromptTemplate.load("pointwise").digest
    with pytest.raises(FileNotFoundError, match="neither a built-in"):
        PromptTemplate.load(tmp_path / "missing.jinja")


def test_bad_items_name_the_field():
    with pytest.raises(ValueError, match="best"):
        Item(id="b", query="q", responses=["a"], best=0)
    with pytest.raises(ValueError, match="rating"):
        Item(id="b", query="q", responses=["a", "b"], rating=1)
    with pytest.raises(ValueError, match="responses"):
        Item(id="b", query="q", responses=[])


def test_compact_template_names_one_slot_per_response():
    """The compact template spells out every score slot: the cold-started base copied the old
    `x_1, ..., x_2` pattern as a counting sequence (`\\boxed{1, 2, 3}` for two responses)."""
    two = Item(id="p", query="Pick one.", responses=["a", "b"], best=0)
    assert content("compact", two, (1, 0)).count("\\boxed{x_1, x_2}") == 1
    assert "\\boxed{x_1, x_2, x_3}" in content("compact", ITEM)
