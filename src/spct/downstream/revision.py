"""Critique-guided revision: a policy answers, the GRM writes principles and a critique of the
answer, the policy revises with the critique in its prompt; up to `rounds` times, stopping as
soon as the GRM's score stops improving (or the policy changes nothing). Every round is kept.

    from spct.downstream.revision import LMPolicy, revise
    rounds = revise(GRM(), LMPolicy(load_backend("hf", "Qwen/Qwen2.5-0.5B-Instruct")), "What is 47 + 38?")
    rounds[-1].answer, [r.score for r in rounds]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from spct.backends.base import Backend, Sampling
from spct.core.items import Item
from spct.core.vote import normalised_rewards
from spct.grm import GRM


class Policy(Protocol):
    def answer(self, query: str) -> str: ...

    def revise(self, query: str, answer: str, critique: str) -> str: ...


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

    def _ask(self, text: str) -> str:
        return self.backend.generate([[{"role": "user", "content": text}]], self.sampling)[0][0].text

    def answer(self, query: str) -> str:
        return self._ask(query)

    def revise(self, query: str, answer: str, critique: str) -> str:
        return self._ask(REVISE_PROMPT.format(query=query, answer=answer, critique=critique))


def judge(grm: GRM, query: str, answer: str, k: int = 1) -> tuple[float, str]:
    """(score in [0, 1], critique) of one answer judged alone; the critique is the first valid
    sample's principles and analysis. When none parsed: score 0 and no critique, so that an
    unjudged answer is never kept over a judged one."""
    item = Item(id="answer", query=query, responses=[answer])
    judgment = grm.score_batch([item], k)[0]
    sample = next((s for s in judgment.samples if s.ok), None)
    critique = ""
    if sample:
        critique = "\n".join([f"- {p.text}" for p in sample.principles] + [sample.critique]).strip()
    rewards = normalised_rewards(judgment, grm.template_for(item).score_range)
    return (rewards[0] if rewards else 0.0), critique


def revise(grm: GRM, policy: Policy, query: str, rounds: int = 3, k: int = 1, answer: str | None = None) -> list[Round]:
    """Round 0 is the policy's first answer (or `answer`); the current answer is the last kept one."""
    current = answer if answer is not None else policy.answer(query)
    score, critique = judge(grm, query, current, k)
    history = [Round(current, score, critique, True)]
    for _ in range(rounds):
        new = policy.revise(query, current, critique)
        if new == current:
            break
        new_score, new_critique = judge(grm, query, new, k)
        improved = new_score > score
        history.append(Round(new, new_score, new_critique, improved))
        if not improved:
            break
        current, score, critique = new, new_score, new_critique
    return history


def final(history: list[Round]) -> str:
    return [r for r in history if r.kept][-1].answer
