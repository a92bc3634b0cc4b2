"""Best-of-N: the candidate the GRM prefers, with the critique that chose it.

    spct best-of-n --query "What is 47 + 38?" --candidate "85" --candidate "75" -k 4
    spct best-of-n items.jsonl -o chosen.jsonl -k 4          # one item (query, responses) per line
    spct best-of-n --query "..." --policy PATH --n 8         # candidates sampled from a policy

Up to `group_size` candidates are judged together as one item (the GRM compares them side by
side). More than that run as a knockout: groups of `group_size`, each group's winner goes on to
the next round, until one group is left. A group whose vote ties at the top (or does not parse)
keeps its first tied candidate, and the result says so (`decided=False`), never silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spct.backends.base import Backend, Sampling
from spct.core.items import Item, Judgment, Message
from spct.grm import GRM


@dataclass
class Choice:
    index: int  # of the chosen candidate, in the order given
    candidate: str
    critique: str  # of the deciding judgment's first valid sample
    decided: bool  # False when some round was tied or unparsed and the first tied candidate was kept
    rounds: list[Judgment]


def best_of_n(
    grm: GRM,
    query: str | list[Message],
    candidates: Sequence[str],
    k: int = 1,
    group_size: int = 8,
) -> Choice:
    if not candidates:
        raise ValueError("candidates: need at least one")
    if group_size < 2:
        raise ValueError(f"group_size must be >= 2, got {group_size}")
    alive = list(range(len(candidates)))
    rounds: list[Judgment] = []
    decided = True
    while len(alive) > 1:
        groups = [alive[i : i + group_size] for i in range(0, len(alive), group_size)]
        judged = [g for g in groups if len(g) > 1]
        items = [
            Item(id=f"round{len(rounds)}-{i}", query=query, responses=[candidates[c] for c in g])
            for i, g in enumerate(judged)
        ]
        judgments = grm.score_batch(items, k)
        rounds += judgments
        winners = {}
        for g, j in zip(judged, judgments, strict=True):
            if j.best is None:
                decided = False
            winners[g[0]] = g[j.best if j.best is not None else (j.ties[0] if j.ties else 0)]
        alive = [winners.get(g[0], g[0]) for g in groups]
    last = rounds[-1] if rounds else None
    critique = next((s.critique for s in last.samples if s.ok), "") if last else ""
    return Choice(alive[0], candidates[alive[0]], critique, decided, rounds)


def sample_candidates(policy: Backend, query: str, n: int, temperature: float = 1.0) -> list[str]:
    """N candidates sampled from a policy behind any backend (in process, or a vLLM server)."""
    (completions,) = policy.generate([[{"role": "user", "content": query}]], Sampling(n=n, temperature=temperature))
    return [c.text for c in completions]
