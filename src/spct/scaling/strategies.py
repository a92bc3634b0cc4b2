"""How k sampled judgments become one reward per response (docs/method.md §3 and 7).

    greedy     one judgment at temperature 0
    voting     sum of the scores of k sampled judgments (paper, Eq. 14)
    meta       a meta RM scores each sampled judgment; only the best k_meta are summed (paper)
    adaptive   draw in rounds; stop as soon as more samples cannot change the vote (beyond the paper)

Pure functions over Samples: drawing them is the GRM's job, so that every rule here is tested
on scripted samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist, fmean

from spct.core.items import Sample

STRATEGIES = ("greedy", "voting", "meta", "adaptive")


def keep_top(samples: list[Sample], meta_scores: Sequence[float | None], k_meta: int) -> list[Sample]:
    """Meta-RM-guided voting: record each sample's meta reward and keep only the k_meta highest
    valid samples in the vote. Failed samples have no scores to vote with, so with fewer than
    k_meta valid samples all of them stay; equal meta rewards keep the earlier draw."""
    if k_meta < 1:
        raise ValueError(f"k_meta must be >= 1, got {k_meta}")
    valid: dict[int, float] = {}
    for i, (s, m) in enumerate(zip(samples, meta_scores, strict=True)):
        if not s.ok:
            continue
        if m is None:
            raise ValueError(f"keep_top: sample {i} parsed but has no meta reward")
        valid[i] = m
    ranked = sorted(valid, key=lambda i: -valid[i])
    kept = set(ranked[:k_meta])
    return [
        s.model_copy(update={"meta_score": m, "in_vote": i in kept})
        for i, (s, m) in enumerate(zip(samples, meta_scores, strict=True))
    ]


def _contrasts(valid: list[list[int]], score_range: tuple[int, int]) -> list[tuple[list[float], float, float]] | None:
    """The vote's outcome as contrasts whose sums over all samples must stay positive for the
    outcome to hold, each with its per-sample range; None while there is no outcome (nothing
    parsed, a tie at the top, a mean exactly between two ratings).

    n >= 2: the leader's score minus each rival's. n = 1 (the outcome is the rating the mean
    rounds to, as `judgment_correct` reads it): the score's distance above r - 0.5 and below r + 0.5.
    """
    lo, hi = score_range
    if not valid:
        return None
    if len(valid[0]) == 1:
        mean = fmean(v[0] for v in valid)
        r = round(mean)
        if abs(mean - r) == 0.5:
            return None
        return [
            ([v[0] - (r - 0.5) for v in valid], lo - (r - 0.5), hi - (r - 0.5)),
            ([(r + 0.5) - v[0] for v in valid], (r + 0.5) - hi, (r + 0.5) - lo),
        ]
    totals = [sum(col) for col in zip(*valid, strict=True)]
    leader = max(range(len(totals)), key=totals.__getitem__)
    if totals.count(totals[leader]) > 1:
        return None
    return [([v[leader] - v[r] for v in valid], lo - hi, hi - lo) for r in range(len(totals)) if r != leader]


def decided(samples: list[Sample], remaining: int, score_range: tuple[int, int], confidence: float = 1.0) -> bool:
    """Whether drawing `remaining` more samples could still change the vote's outcome.

    Certain stop: even if every remaining sample went against the leader by the whole score
    range, it would still lead (a failed sample adds nothing, which is never worse than that).
    Confident stop (confidence < 1): a normal approximation of the remaining samples' sum, with
    their mean and variance estimated from the samples so far (the variance widened for the
    uncertainty of that mean, and by one pseudo-sample of half the range so that a few identical
    samples do not look certain), leaves the outcome unchanged with this predictive probability.
    """
    if remaining <= 0:
        return True
    valid = [s.scores for s in samples if s.scores is not None]
    contrasts = _contrasts(valid, score_range)
    if contrasts is None:
        return False
    z = NormalDist().inv_cdf(confidence) if confidence < 1 else math.inf
    for values, lo, hi in contrasts:
        total, j = sum(values), len(values)
        if total + remaining * min(lo, 0) > 0:
            continue  # certain
        if z == math.inf or j < 2:
            return False
        mean = total / j
        prior = ((hi - lo) / 2) ** 2
        variance = (sum((x - mean) ** 2 for x in values) + prior) / j
        spread = z * math.sqrt(remaining * variance * (1 + remaining / j))
        if total + remaining * mean - spread <= 0:
            return False
    return True
