"""Critique-guided revision: a policy answers, the GRM writes principles and a critique of the
answer, the policy revises with the critique in its prompt; up to `rounds` times, stopping as
soon as the GRM's score stops improving (or the policy changes nothing). Every round is kept.
Many questions go through the loop together, each round one batched call of the policy and one of
the GRM, since a real policy is only fast batched.

    from spct.downstream.revision import LMPolicy, revise
    (rounds,) = revise(GRM(), LMPolicy(load_backend("hf", "qwen2.5-coder-0.5b-instruct")), ["What is 47 + 38?"])
    rounds[-1].answer, [r.score for r in rounds]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from spct.backends.base import Backend, Sampling
from spct.core.items import Item
from spct.core.vote import normalised_rewards
from spct.grm import GRM


class Policy(Protocol):
    def answer(self, queries: Sequence[str]) -> list[str]: ...

    def revise(self, queries: Sequence[str], answers: Sequence[str], critiques: Sequence[str]) -> list[str]: ...


@dataclass
class Round:
    answer: str
    score: float  # the GRM's mean score of the answer alone, mapped to [0, 1]
    critique: str
    kept: bool  # whether this answer became the current one (its score improved on the last)


REVISE_PROMPT = """{query}

Your previous answer:
{answer}

A reviewer's critique of it:
{critique}

Write an improved answer to the question above."""


class LMPolicy:
    """Any chat model behind a backend as the policy, the critique given in the revision prompt."""

    def __init__(self, backend: Backend, temperature: float = 0.0, max_new_tokens: int = 512):
        self.backend = backend
        self.sampling = Sampling(n=1, temperature=temperature, max_new_tokens=max_new_tokens)

    def _ask(self, texts: Sequence[str]) -> list[str]:
        prompts = [[{"role": "user", "content": t}] for t in texts]
        return [c[0].text for c in self.backend.generate(prompts, self.sampling)]

    def answer(self, queries: Sequence[str]) -> list[str]:
        return self._ask(queries)

    def revise(self, queries: Sequence[str], answers: Sequence[str], critiques: Sequence[str]) -> list[str]:
        triples = zip(queries, answers, critiques, strict=True)
        return self._ask([REVISE_PROMPT.format(query=q, answer=a, critique=c) for q, a, c in triples])


def judge(grm: GRM, queries: Sequence[str], answers: Sequence[str], k: int = 1) -> list[tuple[float, str]]:
    """(score in [0, 1], critique) of each answer judged alone; the critique is the first valid
    sample's principles and analysis. When none parsed: score 0 and no critique, so that an
    unjudged answer is never kept over a judged one."""
    pairs = enumerate(zip(queries, answers, strict=True))
    items = [Item(id=f"answer-{i}", query=q, responses=[a]) for i, (q, a) in pairs]
    out = []
    for item, judgment in zip(items, grm.score_batch(items, k), strict=True):
        sample = next((s for s in judgment.samples if s.ok), None)
        critique = ""
        if sample:
            critique = "\n".join([f"- {p.text}" for p in sample.principles] + [sample.critique]).strip()
        rewards = normalised_rewards(judgment, grm.template_for(item).score_range)
        out.append(((rewards[0] if rewards else 0.0), critique))
    return out


def revise(
    grm: GRM,
    policy: Policy,
    queries: Sequence[str],
    rounds: int = 3,
    k: int = 1,
    answers: Sequence[str] | None = None,
) -> list[list[Round]]:
    """Each query's rounds: round 0 is the policy's first answer (or the given one); the current
    answer is the last kept one. A query leaves the loop when a revision fails to raise its score
    or changes nothing."""
    current = list(answers) if answers is not None else policy.answer(queries)
    histories = [[Round(a, s, c, True)] for a, (s, c) in zip(current, judge(grm, queries, current, k), strict=True)]
    live = list(range(len(queries)))
    for _ in range(rounds):
        if not live:
            break
        latest = [histories[i][-1] for i in live]
        new = policy.revise([queries[i] for i in live], [r.answer for r in latest], [r.critique for r in latest])
        changed = [(i, a) for i, a in zip(live, new, strict=True) if a != histories[i][-1].answer]
        scored = judge(grm, [queries[i] for i, _ in changed], [a for _, a in changed], k)
        live = []
        for (i, answer), (score, critique) in zip(changed, scored, strict=True):
            improved = score > histories[i][-1].score
            histories[i].append(Round(answer, score, critique, improved))
            if improved:
                live.append(i)
    return histories


def final(history: list[Round]) -> str:
    return [r for r in history if r.kept][-1].answer
