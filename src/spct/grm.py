"""The Python API: a generative reward model over any backend.

    from spct import GRM
    grm = GRM()                                   # the embedded miniature, in-process
    j = grm.score("What is 47 + 38?", ["85", "75"], samples=4)
    j.rewards, j.best                             # voted rewards, index of the best response

    GRM("deepseek-ai-or-your/checkpoint", backend="openai", base_url="http://127.0.0.1:8000/v1")

One judgment: k response orders (seeded per item) -> k prompts -> one completion each ->
parse -> map scores back -> sum over valid samples (SPEC.md 3).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from itertools import islice
from pathlib import Path

from spct.backends.base import Backend, Sampling, load_backend
from spct.core.items import Item, Judgment, Message
from spct.core.prompts import PromptTemplate
from spct.core.vote import make_sample, sample_orders, vote

DEFAULT_MODEL = str(resources.files("spct") / "models" / "miniature-grm")
PAPER_TEMPLATES = {"template": "pointwise", "binary_template": "binary"}


def model_templates(model: str) -> dict[str, str]:
    """The templates a checkpoint was trained with, from the `spct.json` spct writes beside the
    weights it trains; the paper's for any other model (the released checkpoints included)."""
    card = Path(model) / "spct.json"
    return json.loads(card.read_text())["templates"] if card.is_file() else PAPER_TEMPLATES


class GRM:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        backend: str | Backend = "hf",
        *,
        template: str | PromptTemplate | None = None,
        principles: Sequence[str] = (),
        temperature: float | None = None,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        seed: int = 0,
        shuffle: bool = True,
        lenient: bool = False,
        **backend_kwargs,
    ):
        """`template=None` takes the model's own (see `model_templates`). `temperature=None` means
        the paper's settings: greedy for one sample, 0.5 for k > 1. `principles` are applied by
        every judgment beside those the model generates."""
        self.backend = load_backend(backend, model, **backend_kwargs) if isinstance(backend, str) else backend
        if template is None:
            template = model_templates(self.backend.model_id)["template"]
        self.template = template if isinstance(template, PromptTemplate) else PromptTemplate.load(template)
        self.principles = tuple(principles)
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.shuffle = shuffle
        self.lenient = lenient

    def sampling(self, samples: int) -> Sampling:
        temperature = self.temperature if self.temperature is not None else (0.0 if samples == 1 else 0.5)
        return Sampling(
            n=1, temperature=temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens, seed=self.seed
        )

    def score(
        self, query: str | list[Message] | list[dict], responses: Sequence[str], samples: int = 1, id: str = "item"
    ) -> Judgment:
        item = Item.model_validate({"id": id, "query": query, "responses": list(responses)})
        return self.score_batch([item], samples)[0]

    def score_batch(self, items: Sequence[Item], samples: int = 1) -> list[Judgment]:
        """All k samples of all items in one backend call (the backend batches them)."""
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        sampling = self.sampling(samples)
        orders = [sample_orders(len(it.responses), samples, self.seed, it.id, self.shuffle) for it in items]
        prompts = [
            self.template.render(it, order, self.principles) for it, its in zip(items, orders) for order in its
        ]
        outputs = iter(self.backend.generate(prompts, sampling))
        strategy = "greedy" if sampling.temperature == 0 and samples == 1 else "voting"
        judgments = []
        for it, its in zip(items, orders):
            found = [
                make_sample(
                    c.text, order, score_range=self.template.score_range,
                    finish_reason=c.finish_reason, lenient=self.lenient,
                )
                for order in its
                for c in next(outputs)
            ]
            judgments.append(vote(it.id, len(it.responses), found, strategy))
        return judgments

    def score_items(self, items: Iterable[Item], samples: int = 1, batch_size: int = 8) -> Iterator[Judgment]:
        """Judgments in input order, `batch_size` items per backend call, yielded as each call ends."""
        it = iter(items)
        while batch := list(islice(it, batch_size)):
            yield from self.score_batch(batch, samples)
