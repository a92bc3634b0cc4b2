"""A policy of the miniature world, for measuring critique-guided revision (downstream.revision).

It starts from one of the world's own responses and revises by adopting the value the critique
states for the question's expression ("6 ** 2 - 5 = 31"): arithmetic is the one family whose
critiques state the right answer outright, so the loop can be measured without training a policy.
How often revision helps then depends only on the GRM: on whether its critique computes the value
correctly, and whether its score rises for the corrected answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spct.core.items import Item


class ArithmeticPolicy:
    def __init__(self, items: Sequence[Item]):
        self.items = {it.query: it for it in items if it.meta.get("family") == "arithmetic"}

    def answer(self, queries: Sequence[str]) -> list[str]:
        return [self.items[q].responses[0] for q in queries]

    def revise(self, queries: Sequence[str], answers: Sequence[str], critiques: Sequence[str]) -> list[str]:
        return [self._revised(q, a, c) for q, a, c in zip(queries, answers, critiques, strict=True)]

    def _revised(self, query: str, answer: str, critique: str) -> str:
        expr = self.items[query].meta["facts"]["expr"]
        stated = re.search(re.escape(expr) + r"\s*=\s*(-?\d+)", critique)
        return f"The answer is {stated.group(1)}." if stated else answer
