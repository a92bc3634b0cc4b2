"""The Python API: a generative reward model over any backend, with inference-time scaling.

    from spct import GRM
    grm = GRM()                                   # the embedded default (SmolLM2-135M + adapter), in-process
    j = grm.score("What is 47 + 38?", ["85", "75"], k=4)
    j.rewards, j.best                             # voted rewards, index of the best response
    grm.score(query, responses, k=32, strategy="adaptive")     # stops once the vote is decided

    GRM("deepseek-ai-or-your/checkpoint", backend="openai", base_url="http://127.0.0.1:8000/v1",
        meta_rm="BBQGOD/DeepSeek-GRM-27B-MetaRM", cache="runs/cache.sqlite")

One judgment: draws 0..k-1 of an item, each showing the responses in its own seeded order ->
prompts -> completions (cached draws read back) -> parse -> scores mapped back -> a strategy
of `scaling.strategies` turns the samples into rewards (docs/method.md §3).

Principle modes (docs/principles.md): "generated", the paper's, writes principles and critique in
one generation after reading the responses; "query" writes the principles once per query from the
query alone (greedy, cached) and every sample continues its judgment from them; "given" continues
from the user's principles only. Both of the latter put the principles at the start of the
model's own answer, the format it was trained to write, so the critique is conditioned on them.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Protocol

from spct.backends.base import Backend, BackendError, Completion, CountsTokens, Sampling, load_backend
from spct.core.defaults import SCORING
from spct.core.items import Item, Judgment, Message, Principle, Sample
from spct.core.parse import format_principles, parse_principles
from spct.core.prompts import PromptTemplate
from spct.core.vote import make_sample, sample_orders, vote
from spct.scaling.cache import SampleCache, draw_key, model_fingerprint
from spct.scaling.strategies import STRATEGIES, decided, keep_top

# The embedded default: a LoRA adapter of SmolLM2-135M-Instruct (the registry base,
# `backends.pretrained`) trained by spct's own SPCT stages (docs/real-grm.md). The 5M miniature,
# trained from scratch on the miniature world, is the fast fixture of tests and benchmarks.
DEFAULT_MODEL = str(resources.files("spct") / "models" / "smollm2-grm")
MINIATURE_MODEL = str(resources.files("spct") / "models" / "miniature-grm")
PAPER_TEMPLATES = {"template": "pointwise"}  # 1..10 for any n, as the released checkpoints score
# the paper's sections and output format without the general criteria (a third of the prompt),
# 0/1 for a single response: what spct's own GRMs are trained with
COMPACT_TEMPLATES = {"template": "compact", "binary_template": "compact-binary"}
PRINCIPLE_MODES = ("generated", "query", "given")
CRITERIA = "Specific Criteria:\n"  # how mode "query" opens the answer to a query alone
CRITERIA_END = ("\n\n", "Analysis")  # a criteria section is one block of lines (core.parse.format_principles)
NO_PRINCIPLES = "no_principles: the criteria written from the query alone held no principle"


def opening(shared: list[Principle] | None) -> str:
    """How a judgment conditioned on `shared` principles starts: its criteria section, then the
    analysis header the model continues from ("" in mode "generated")."""
    return format_principles(shared) + "\n\nAnalysis:\n" if shared else ""


def model_templates(model: str) -> dict[str, str]:
    """The templates a checkpoint was trained with, from the `spct.json` spct writes beside the
    weights it trains, or into a GGUF file it exports (`binary_template`, when named, judges
    items with one response); the paper's for any other model (the released checkpoints included)."""
    if model.endswith(".gguf") and Path(model).is_file():  # `spct export --gguf` carries the card inside
        from gguf import GGUFReader

        field = GGUFReader(model).fields.get("spct.json")
        return json.loads(field.contents())["templates"] if field else PAPER_TEMPLATES
    card = Path(model) / "spct.json"
    return json.loads(card.read_text())["templates"] if card.is_file() else PAPER_TEMPLATES


class MetaAnnotator(Protocol):
    """What strategy "meta" needs of a meta RM (`scaling.meta_rm.MetaRM` is one): every sample
    of every item given its `meta_score`."""

    def annotate(self, items: Sequence[Item], drawn: Sequence[list[Sample]]) -> list[list[Sample]]: ...


@dataclass(frozen=True)
class Templates:
    """The prompt templates one model judges with: `single`, when set, for items with one response."""

    default: PromptTemplate
    single: PromptTemplate | None = None

    @classmethod
    def of(cls, model_id: str, template: str | PromptTemplate | None = None) -> Templates:
        """The model's own (see `model_templates`) unless the user names one for every item."""
        if template is not None:
            return cls(template if isinstance(template, PromptTemplate) else PromptTemplate.load(template))
        return cls.named(model_templates(model_id))

    @classmethod
    def named(cls, names: dict[str, str]) -> Templates:
        """From a `spct.json` "templates" entry: `template`, optionally `binary_template`."""
        single = names.get("binary_template")
        return cls(PromptTemplate.load(names["template"]), PromptTemplate.load(single) if single else None)

    def __call__(self, item: Item) -> PromptTemplate:
        return self.single if self.single and len(item.responses) == 1 else self.default


class GRM:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        backend: str | Backend = "hf",
        *,
        template: str | PromptTemplate | None = None,
        principles: Sequence[str] = (),
        temperature: float | None = None,
        top_p: float = SCORING.top_p,
        max_new_tokens: int = SCORING.max_new_tokens,
        seed: int = SCORING.seed,
        shuffle: bool = True,
        per_order: int = SCORING.per_order,
        lenient: bool = False,
        cache: str | Path | SampleCache | None = None,
        meta_rm: str | MetaAnnotator | None = None,
        principle_mode: str = "generated",
        **backend_kwargs,
    ):
        """`template=None` takes the model's own (see `model_templates`). `temperature=None` means
        the paper's settings: greedy for one sample, 0.5 for k > 1. `principles` are applied by
        every judgment beside those the model writes; in `principle_mode` "given" they are the only
        ones (see the module's docstring for the modes). `per_order` > 1 shares prompts: draws
        come in groups of up to `per_order` showing one response order, sampled from one prefill
        (the paper's k distinct orders is `per_order=1`; see `draw`). `cache`: a SQLite file of completions.
        `meta_rm`: a sequence-classification checkpoint (or a `MetaRM`) for strategy "meta"."""
        if per_order < 1:
            raise ValueError(f"per_order must be >= 1, got {per_order}")
        if principle_mode not in PRINCIPLE_MODES:
            raise ValueError(f"unknown principle mode {principle_mode!r}; choose one of {', '.join(PRINCIPLE_MODES)}")
        if principle_mode == "given" and not principles:
            raise ValueError("principle mode 'given' judges by the user's principles only: pass some")
        self.backend = load_backend(backend, model, **backend_kwargs) if isinstance(backend, str) else backend
        self.templates = Templates.of(self.backend.model_id, template)
        self.principle_mode = principle_mode
        self._written: dict[str, list[Principle]] = {}  # mode "query": principles by their cache key
        self.principles = tuple(principles)
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.shuffle = shuffle
        self.per_order = per_order
        self.lenient = lenient
        self.cache = SampleCache(cache) if isinstance(cache, str | Path) else cache
        if isinstance(meta_rm, str):
            from spct.scaling.meta_rm import (
                MetaRM,  # torch and a second model only when asked for
            )

            meta_rm = MetaRM(meta_rm)
        self.meta_rm = meta_rm
        self._fingerprint = model_fingerprint(self.backend.model_id)

    @property
    def template(self) -> PromptTemplate:
        """The template of items with several responses (and of all items, unless `templates.single`)."""
        return self.templates.default

    def template_for(self, item: Item) -> PromptTemplate:
        return self.templates(item)

    def prompt_lengths(self, items: Sequence[Item]) -> list[int]:
        """Each item's prompt in tokens (responses in their given order), where the backend can
        count them (`prompt_tokens`; the hf backend): for bounding work by the model's window. The
        principles that modes "query" and "given" open the answer with are not counted."""
        if not isinstance(self.backend, CountsTokens):
            raise BackendError(f"the {type(self.backend).__name__} backend cannot count prompt tokens")
        prompts = [self.template_for(it).render(it, list(range(len(it.responses))), self.principles) for it in items]
        return self.backend.prompt_tokens(prompts)

    def temperature_for(self, k: int) -> float:
        if self.temperature is not None:
            return self.temperature
        return 0.0 if k == 1 else SCORING.sampled_temperature

    # -- drawing samples -------------------------------------------------------------------------

    def per_order_of(self, draws: int) -> int:
        """Draws per response order in a call of `draws` draws: `per_order`, but at most half of
        them, so that a vote (k draws, or a round of adaptive voting) sees at least two orders and
        a position habit cannot decide it alone."""
        return max(1, min(self.per_order, draws // 2))

    def draw(
        self, items: Sequence[Item], start: int, stop: int, temperature: float, hint: bool = False
    ) -> list[list[Sample]]:
        """Draws start..stop-1 of every item, in one backend call per distinct prompt group size.
        `hint` tells the model the ground truth (hinted sampling, docs/method.md §4).

        Draw j shows order j // p of the item's seeded orders (`sample_orders`), so the draws of
        one order share one prompt, sampled p at a time from a single prefill (p:
        `per_order_of`). The first draws of an item are the same whatever k is once k >= 2 x
        per_order, which lets k = 8 reuse a k = 32 run's cache and lets adaptive voting add rounds."""
        p = self.per_order_of(stop - start)
        blocks = []  # (item index, order, draw indices)
        for i, it in enumerate(items):
            orders = sample_orders(len(it.responses), math.ceil(stop / p), self.seed, it.id, self.shuffle)
            for b in range(start // p, math.ceil(stop / p)):
                blocks.append((i, orders[b], list(range(max(b * p, start), min((b + 1) * p, stop)))))
        shared = self.shared_principles(items)
        unread = [i for i, ps in enumerate(shared) if ps == []]  # mode "query" could read no principle
        blocks = [b for b in blocks if b[0] not in unread]
        item_keys = [self._key_parts(it, temperature, hint, ps, p) for it, ps in zip(items, shared, strict=True)]
        keys = {(i, j): draw_key(**item_keys[i], draw=j) for i, _, js in blocks for j in js}
        found = self.cache.get_many(list(keys.values())) if self.cache else {}
        got: dict[tuple[int, int], Completion] = {ij: found[k] for ij, k in keys.items() if k in found}
        todo = defaultdict(list)  # count -> blocks of that many missing draws
        for i, order, js in blocks:
            missing = [j for j in js if (i, j) not in got]
            if missing:
                todo[len(missing)].append((i, order, missing))
        for count, group in todo.items():
            sampling = Sampling(
                n=count,
                temperature=temperature,
                top_p=self.top_p,
                max_new_tokens=self.max_new_tokens,
                seed=random.Random(f"{self.seed}:{start}:{count}").getrandbits(31),  # rounds must differ
            )
            prompts = [self._prompt(items[i], order, hint, shared[i]) for i, order, _ in group]
            for (i, _, missing), completions in zip(group, self.backend.generate(prompts, sampling), strict=True):
                got.update(((i, j), c) for j, c in zip(missing, completions, strict=True))
            if self.cache:
                self.cache.put_many((keys[i, j], got[i, j]) for i, _, missing in group for j in missing)
        drawn: list[list[Sample]] = [[] for _ in items]
        for i, order, js in blocks:
            drawn[i] += [self._sample(items[i], order, got[i, j], opening(shared[i])) for j in js]
        for i in unread:
            failed = Sample(order=list(range(len(items[i].responses))), text="", failure=NO_PRINCIPLES)
            drawn[i] = [failed] * (stop - start)
        return drawn

    def _prompt(self, item: Item, order: list[int], hint: bool, shared: list[Principle] | None) -> list[dict]:
        """The judging prompt; in modes "query" and "given", the answer opened with the principles."""
        if shared is None:
            return self.template_for(item).render(item, order, self.principles, hint=hint)
        required = self.principles if self.principle_mode == "query" else ()  # given: they are `shared`
        messages = self.template_for(item).render(item, order, required, hint=hint)
        return [*messages, {"role": "assistant", "content": opening(shared)}]

    def shared_principles(self, items: Sequence[Item]) -> list[list[Principle] | None]:
        """What each item's samples are conditioned on: None in mode "generated" (each writes its
        own), the user's in mode "given", and in mode "query" the principles written greedily from
        the query alone, once per query: read back from the cache (keyed by model, template, the
        user's principles, query and seed) or memory, else generated in one backend call. [] where
        the model wrote no criteria section: those items are not drawn (failure no_principles)."""
        if self.principle_mode == "generated":
            return [None] * len(items)
        if self.principle_mode == "given":
            return [[Principle(text=p) for p in self.principles]] * len(items)
        template = PromptTemplate.load("principles")
        keys = [
            draw_key(
                principles_of=[m.model_dump() for m in it.conversation],
                model=self._fingerprint,
                template=template.digest,
                principles=self.principles,
                seed=self.seed,
                max_new_tokens=SCORING.principle_tokens,
            )
            for it in items
        ]
        todo = {key: it for key, it in zip(keys, items, strict=True) if key not in self._written}
        found = self.cache.get_many(list(todo)) if self.cache and todo else {}
        new = [(key, it) for key, it in todo.items() if key not in found]
        if new:
            prompts = [
                [*template.render(it, [], self.principles), {"role": "assistant", "content": CRITERIA}] for _, it in new
            ]
            sampling = Sampling(
                n=1, temperature=0.0, max_new_tokens=SCORING.principle_tokens, seed=self.seed, stop=CRITERIA_END
            )
            written = {key: cs[0] for (key, _), cs in zip(new, self.backend.generate(prompts, sampling), strict=True)}
            if self.cache:
                self.cache.put_many(written.items())
            found |= written
        self._written |= {key: parse_principles(CRITERIA + c.text) for key, c in found.items()}
        return [self._written[key] for key in keys]

    def _key_parts(
        self, item: Item, temperature: float, hint: bool, shared: list[Principle] | None, per_order: int
    ) -> dict:
        """Everything but the draw index that a draw of `item` depends on (see `scaling.cache`)."""
        return dict(
            model=self._fingerprint,
            template=self.template_for(item).digest,
            principles=self.principles,
            temperature=temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_new_tokens,
            seed=self.seed,
            shuffle=self.shuffle,
            per_order=per_order,
            item=[item.id, item.model_dump(mode="json", include={"query", "responses"})],
            **({"hint": [item.best, item.rating]} if hint else {}),
            **({"conditioned_on": [p.model_dump() for p in shared]} if shared is not None else {}),
        )

    def _sample(self, item: Item, order: list[int], c: Completion, opened: str = "") -> Sample:
        """`opened`: the text the answer was opened with (modes "query", "given"), read with the rest."""
        return make_sample(
            opened + c.text,
            order,
            score_range=self.template_for(item).score_range,
            finish_reason=c.finish_reason,
            n_tokens=c.n_tokens,
            lenient=self.lenient,
        )

    # -- strategies --------------------------------------------------------------------------------

    def score(
        self,
        query: str | list[Message] | list[dict],
        responses: Sequence[str],
        k: int = 1,
        id: str = "item",
        **strategy,
    ) -> Judgment:
        item = Item.model_validate({"id": id, "query": query, "responses": list(responses)})
        return self.score_batch([item], k, **strategy)[0]

    def score_batch(
        self,
        items: Sequence[Item],
        k: int = 1,
        strategy: str | None = None,
        *,
        k_meta: int | None = None,
        round_size: int = SCORING.round_size,
        confidence: float = SCORING.confidence,
    ) -> list[Judgment]:
        """Judge a batch of items with k draws each. strategy None: greedy for k = 1,
        voting otherwise. "meta" keeps the top k_meta (default k // 2) by the meta RM;
        "adaptive" draws `round_size` at a time until `decided(..., confidence)` (1.0 = stop only
        when the remaining budget cannot change the outcome)."""
        strategy = self.check_options(k, strategy)
        temperature = self.temperature_for(k)
        if strategy == "adaptive":
            drawn = self._adaptive(items, k, temperature, round_size, confidence)
        else:
            drawn = self.draw(items, 0, k, temperature)
        if strategy == "meta":
            assert self.meta_rm is not None  # check_options refuses "meta" without one
            kept = k_meta or max(1, k // 2)
            drawn = [keep_top(ss, [s.meta_score for s in ss], kept) for ss in self.meta_rm.annotate(items, drawn)]
        judgments = [vote(it.id, len(it.responses), ss, strategy, k=k) for it, ss in zip(items, drawn, strict=True)]
        for j, ps in zip(judgments, self.shared_principles(items), strict=True):  # memoised: no new call
            j.principle_mode, j.principles = self.principle_mode, ps or []
        return judgments

    def check_options(self, k: int, strategy: str | None) -> str:
        """The strategy that `k` and `strategy` name, or a ValueError saying what is wrong."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        strategy = strategy or ("greedy" if k == 1 else "voting")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if strategy == "greedy" and k != 1:
            raise ValueError(f"greedy draws one sample, got k={k}")
        if strategy == "meta" and self.meta_rm is None:
            raise ValueError("strategy 'meta' needs a meta RM: GRM(..., meta_rm=checkpoint)")
        return strategy

    def _adaptive(
        self, items: Sequence[Item], k: int, temperature: float, round_size: int, confidence: float
    ) -> list[list[Sample]]:
        """Rounds of draws for the items still open; an item leaves once its vote is decided."""
        if round_size < 1:
            raise ValueError(f"round_size must be >= 1, got {round_size}")
        drawn: list[list[Sample]] = [[] for _ in items]
        open_ = list(range(len(items)))
        start = 0
        while open_ and start < k:
            stop = min(start + round_size, k)
            for i, new in zip(open_, self.draw([items[i] for i in open_], start, stop, temperature), strict=True):
                drawn[i] += new
            start = stop
            open_ = [
                i
                for i in open_
                if not decided(drawn[i], k - start, self.template_for(items[i]).score_range, confidence)
            ]
        return drawn

    def score_items(
        self, items: Iterable[Item], k: int = 1, batch_size: int = SCORING.batch_size, **strategy
    ) -> Iterator[Judgment]:
        """Judgments in input order, `batch_size` items per backend call, yielded as each call ends."""
        it = iter(items)
        while batch := list(islice(it, batch_size)):
            yield from self.score_batch(batch, k, **strategy)
