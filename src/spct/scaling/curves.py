"""Accuracy against k from ONE sampling pass at the largest k (docs/method.md §7): voting@k and
meta-RM voting@k over random k-subsets of the drawn samples, and adaptive voting replayed on the
draws in their order (the draws an adaptive run makes are the first ones of the same sequence,
see `GRM.draw`)."""

from __future__ import annotations

import random
from collections.abc import Callable

from spct.core.defaults import SCORING
from spct.core.items import Item, Judgment
from spct.core.vote import judgment_correct, vote
from spct.scaling.strategies import decided, keep_top

SUBSETS = 16  # random subsets averaged per k below the pass's k, to cut the variance of the curve


def vote_at(
    judgment: Judgment,
    item: Item,
    k: int,
    rng: random.Random,
    subsets: int = SUBSETS,
    rule: Callable[[Judgment, Item], float] = judgment_correct,
) -> float:
    """Accuracy of voting over k of the judgment's samples, averaged over random subsets; `rule`
    scores one voted judgment (default: strict correctness)."""
    samples = judgment.samples
    if k >= len(samples):
        return float(rule(judgment, item))
    n = len(item.responses)
    return sum(rule(vote(item.id, n, rng.sample(samples, k)), item) for _ in range(subsets)) / subsets


def meta_at(
    judgment: Judgment,
    item: Item,
    k: int,
    rng: random.Random,
    subsets: int = SUBSETS,
    rule: Callable[[Judgment, Item], float] = judgment_correct,
) -> float:
    """Accuracy of meta-RM voting over k of the judgment's samples (each carrying its
    `meta_score`), keeping the top k // 2, averaged over random subsets."""
    n = len(item.responses)
    draws = (
        [judgment.samples] if k >= len(judgment.samples) else [rng.sample(judgment.samples, k) for _ in range(subsets)]
    )
    hits = [rule(vote(item.id, n, keep_top(ss, [s.meta_score for s in ss], max(1, k // 2))), item) for ss in draws]
    return sum(hits) / len(hits)


def adaptive_stop(
    judgment: Judgment,
    k: int,
    score_range: tuple[int, int],
    round_size: int = SCORING.round_size,
    confidence: float = SCORING.confidence,
) -> int:
    """How many of the judgment's first draws adaptive voting with budget k uses, drawing in rounds."""
    used = 0
    while used < k:
        used = min(used + round_size, k)
        if decided(judgment.samples[:used], k - used, score_range, confidence):
            break
    return used


def adaptive_at(
    judgment: Judgment,
    item: Item,
    k: int,
    score_range: tuple[int, int],
    round_size: int = SCORING.round_size,
    confidence: float = SCORING.confidence,
) -> tuple[bool, int]:
    """(correct, samples used) of adaptive voting with budget k, replayed on the first draws."""
    used = adaptive_stop(judgment, k, score_range, round_size, confidence)
    replay = vote(item.id, len(item.responses), judgment.samples[:used], "adaptive", k=k)
    return judgment_correct(replay, item), used
