"""The miniature world's test split (400 items, no query shared with train or validation):
pairs, best-of-N lists and lone responses rated 0/1, every subset one family of the world. A
lone response counts as right when its mean score rounds to the rating (docs/method.md §2)."""

from __future__ import annotations

from pathlib import Path

from spct.core.items import Item
from spct.eval.benchmarks import Benchmark
from spct.miniature.world import generate

ITEMS = 400


def load(root: Path) -> list[Item]:
    """Generated, not read: `root` is unused."""
    return [
        it.model_copy(update={"meta": {**it.meta, "subset": it.meta["family"]}}) for it in generate(ITEMS, "test", 0)
    ]


BENCHMARK = Benchmark("miniature", load)
