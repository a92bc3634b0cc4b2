"""Prompts of the pointwise GRM: one chat message in the paper's format (docs/method.md §1).

A template is a Jinja file rendered with:
  conversation  the conversation, one "Role: text" block per turn
  responses     the responses in the order shown
  principles    user-supplied principles every judgment must apply (a policy, a new rule)
  hint_best     1-based shown position of the best response, for hinted sampling (RFT), else None
  hint_rating   the ground-truth rating of a single response, for hinted sampling, else None
Built in: `pointwise` (1..n responses, scores 1..10, the released checkpoints' format) and
`binary` (the paper's single-response training variant, 0 = incorrect, 1 = correct); `compact`
and `compact-binary` keep the paper's sections and output format but drop the general criteria,
so that a model trained from scratch on a CPU spends its compute on the judgments (a third of
the prompt tokens). `principles` asks for the criteria of a conversation before any response is
shown (principle mode "query", grm.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from spct.core.items import Item

BUILTIN_RANGES = {
    "pointwise": (1, 10),
    "binary": (0, 1),
    "compact": (1, 10),
    "compact-binary": (0, 1),
    "meta": (1, 10),  # the meta RM's user turn (scaling.meta_rm); it asks for no scores, the range is unused
    "principles": (1, 10),  # principle mode "query": criteria from the query alone, no responses; range unused
}
# sandboxed: a user's template file is data, so it may not reach Python objects and run code
_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)


@cache
def _builtin_source(name: str) -> str:
    """Read once: templates are looked up per item when a world mixes them."""
    return resources.files("spct.templates").joinpath(f"{name}.jinja").read_text()


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str
    score_range: tuple[int, int] = (1, 10)

    @classmethod
    def load(cls, name_or_path: str | Path) -> PromptTemplate:
        """A built-in template by name, or a Jinja file of the user's (scores 1..10)."""
        if str(name_or_path) in BUILTIN_RANGES:
            name = str(name_or_path)
            return cls(name, _builtin_source(name), BUILTIN_RANGES[name])
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"template {str(name_or_path)!r} is neither a built-in ({', '.join(BUILTIN_RANGES)}) nor a file"
            )
        return cls(path.stem, path.read_text())

    @cached_property
    def _compiled(self) -> jinja2.Template:
        return _ENV.from_string(self.source)

    @cached_property
    def digest(self) -> str:
        """Identifies the template's text and range, e.g. in a cache key."""
        return hashlib.sha256(f"{self.score_range}\n{self.source}".encode()).hexdigest()[:16]

    def render(
        self,
        item: Item,
        order: list[int],
        principles: tuple[str, ...] = (),
        hint: bool = False,
    ) -> list[dict[str, str]]:
        """Chat messages judging `item`'s responses in `order` (order[p] = original index shown at p)."""
        if self.score_range == (0, 1) and len(item.responses) != 1:
            raise ValueError(f"item {item.id}: template {self.name!r} judges exactly one response")
        hint_best = hint_rating = None
        if hint:
            if item.best is None and item.rating is None:
                raise ValueError(f"item {item.id}: hinted prompt needs a ground truth (best or rating)")
            hint_best = order.index(item.best) + 1 if item.best is not None else None
            hint_rating = item.rating
        text = self._compiled.render(
            conversation="\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in item.conversation),
            responses=[item.responses[i] for i in order],
            principles=list(principles),
            hint_best=hint_best,
            hint_rating=hint_rating,
        )
        return [{"role": "user", "content": text.strip()}]
