"""The data model of one judgment: what goes in (Item), what one generation yields (Sample), and
what k generations vote to (Judgment).

Pydantic models, so that a bad input record fails with the name of the field at fault and every
result serialises to one JSON line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Item(BaseModel):
    """A query and 1..n responses to judge, with optional ground truth.

    `query` is either the user's text or a whole conversation whose last turn is the user's.
    Ground truth: `best` (0-based index of the strictly best response, n >= 2) or `rating`
    (correctness of a single response, n = 1; 1 = correct, 0 = incorrect in the paper's data).
    """

    id: str
    query: str | list[Message]
    responses: list[str] = Field(min_length=1)
    best: int | None = None
    rating: int | None = None
    meta: dict = Field(default_factory=dict, description="free-form: family, source, subset...")

    @field_validator("id", mode="before")
    @classmethod
    def _int_id(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v  # datasets often use ints

    @model_validator(mode="after")
    def _check_label(self) -> Item:
        n = len(self.responses)
        if isinstance(self.query, list) and (not self.query or self.query[-1].role != "user"):
            raise ValueError("query: a conversation must end with a user turn")
        if self.best is not None:
            if n < 2:
                raise ValueError("best: needs at least 2 responses (use rating for one response)")
            if not 0 <= self.best < n:
                raise ValueError(f"best: {self.best} is not a response index in 0..{n - 1}")
        if self.rating is not None and n != 1:
            raise ValueError("rating: only for an item with exactly one response (use best)")
        return self

    @property
    def conversation(self) -> list[Message]:
        if isinstance(self.query, str):
            return [Message(role="user", content=self.query)]
        return self.query


def query_text(item: Item) -> str:
    """The whole conversation's text: what decides an item's split, and what its principles are
    compared with (core/drift.py)."""
    return "\n".join(m.content for m in item.conversation)


class Principle(BaseModel):
    text: str
    weight: float | None = Field(None, description="percent, as the model wrote it; text only")


class Sample(BaseModel):
    """One sampled judgment. `order[p]` is the original index of the response shown at position p;
    `scores` are mapped back to the original order. A failed parse has `scores=None` and a reason."""

    order: list[int]
    text: str
    principles: list[Principle] = Field(default_factory=list)
    critique: str = ""
    scores: list[int] | None = None
    failure: str | None = None
    finish_reason: str | None = None
    n_tokens: int | None = None
    meta_score: float | None = None
    in_vote: bool = Field(True, description="False when meta-RM-guided voting left this sample out")

    @property
    def ok(self) -> bool:
        return self.scores is not None


class Judgment(BaseModel):
    """All samples of one item and their vote (sum of scores over valid samples, docs/method.md §3).

    `best` is the unique top response or None when the top is tied (`ties` lists the tied
    indices) or no sample parsed; evaluation decides how to break ties, not the judgment.
    `k` is the sampling budget; adaptive voting may stop before drawing all of it.
    """

    id: str
    n_responses: int
    strategy: str = "voting"
    k: int | None = None
    samples: list[Sample]
    rewards: list[int] | None
    best: int | None
    ties: list[int] = Field(default_factory=list)
    n_valid: int
    n_failed: int
    failures: dict[str, int] = Field(default_factory=dict)
    principle_mode: str = Field("generated", description="where the principles came from (grm.PRINCIPLE_MODES)")
    principles: list[Principle] = Field(
        default_factory=list,
        description="the principles every sample was conditioned on (modes query and given); "
        "in mode generated each sample writes its own",
    )

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented idiom
    @property
    def samples_used(self) -> int:
        return len(self.samples)
