"""The benchmarks' metrics (docs/method.md §2, 5, 8), each with its count and a bootstrap interval.

- Pairwise and best-of-N accuracy: the labelled best must have the top reward. A tie at the top is
  wrong under `strict` (the training rule) and broken at random (seeded) under `random` (the
  paper's evaluation); reward-bench's generative scoring counts a tie as half (`half`).
- RewardBench: each section is the example-count-weighted mean of its subsets, with math-prm
  weighted up to the code subsets' total; the final score is the mean of Chat, Chat Hard, Safety
  and Reasoning (Prior Sets excluded, as in the paper).
- ReaLMistake: ROC-AUC of the response's score against "no error" (rank statistic, ties half),
  its interval from resampled items.
- Overall: the mean of RewardBench, PPE Preference, PPE Correctness and RMB.
- A strategy against another on the same items (voting@k against greedy): the difference with a
  paired bootstrap interval, over one benchmark or as the mean over several.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TIES = ("strict", "random", "half")
SECTIONS = {
    "Chat": ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med"),
    "Chat Hard": (
        "mt-bench-hard",
        "llmbar-natural",
        "llmbar-adver-neighbor",
        "llmbar-adver-GPTInst",
        "llmbar-adver-GPTOut",
        "llmbar-adver-manual",
    ),
    "Safety": (
        "refusals-dangerous",
        "refusals-offensive",
        "xstest-should-refuse",
        "xstest-should-respond",
        "donotanswer",
    ),
    "Reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"),
}


@dataclass(frozen=True)
class Estimate:
    value: float
    n: int
    low: float  # bootstrap 95% interval
    high: float


def outcome(
    rewards: Sequence[float] | None, best: int, ties: str = "strict", rng: random.Random | None = None
) -> float:
    """1 if the labelled best has the top reward, 0 if not; a tie at the top per `ties`; no
    rewards (nothing parsed) is 0, or half under reward-bench's rule."""
    if ties not in TIES:
        raise ValueError(f"ties: {ties!r}; choose one of {', '.join(TIES)}")
    if rewards is None:
        return 0.5 if ties == "half" else 0.0
    top = max(rewards)
    tied = [i for i, r in enumerate(rewards) if r == top]
    if best not in tied:
        return 0.0
    if len(tied) == 1:
        return 1.0
    if ties == "strict":
        return 0.0
    if ties == "half":
        return 0.5
    return float((rng or random.Random(0)).choice(tied) == best)


def bootstrap(values: Sequence[float], resamples: int = 1000, seed: int = 0) -> Estimate:
    """The mean with a percentile bootstrap 95% interval."""
    x = np.asarray(values, dtype=float)
    if not len(x):
        raise ValueError("no outcomes to average")
    means = np.random.default_rng(seed).choice(x, size=(resamples, len(x))).mean(axis=1)
    return _percentile_interval(float(x.mean()), len(x), means)


def _percentile_interval(value: float, n: int, resampled: Sequence[float] | np.ndarray) -> Estimate:
    low, high = np.percentile(resampled, [2.5, 97.5])
    return Estimate(value, n, float(low), float(high))


def section_scores(accuracy: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    """RewardBench's sections from per-subset accuracy and example counts, with math-prm weighted as
    many as the six code subsets together, and the final score as their mean. Sections with no
    measured subset are left out (and so is the final score, unless all four are there)."""
    counts = dict(counts)
    if "math-prm" in counts:
        counts["math-prm"] = sum(counts.get(s, 0) for s in SECTIONS["Reasoning"] if s.startswith("hep-"))
    out = {}
    for section, subsets in SECTIONS.items():
        measured = [s for s in subsets if s in accuracy]
        if measured:
            total = sum(counts[s] for s in measured)
            out[section] = sum(accuracy[s] * counts[s] for s in measured) / total
    if len(out) == len(SECTIONS):
        out["RewardBench"] = sum(out[s] for s in SECTIONS) / len(SECTIONS)
    return out


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """P(score of a positive > score of a negative), ties counting half (the Mann-Whitney form)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores for {len(y)} labels")
    pos, neg = s[y], np.sort(s[~y])
    if not pos.size or not neg.size:
        raise ValueError("ROC-AUC needs both labels")
    below, up_to = np.searchsorted(neg, pos, "left"), np.searchsorted(neg, pos, "right")
    return float((below + 0.5 * (up_to - below)).sum() / (pos.size * neg.size))


def auc_bootstrap(
    draws: Sequence[Sequence[float]], labels: Sequence[int], resamples: int = 1000, seed: int = 0
) -> Estimate:
    """ROC-AUC averaged over `draws` (score vectors of the same items: one for greedy, one per
    drawn k-subset for voting@k) with a percentile bootstrap 95% interval over items; resample r
    reads draw r mod len(draws), so the interval spans both. Resamples holding one label only
    are drawn again."""
    y = np.asarray(labels, dtype=bool)
    scores = [np.asarray(d, dtype=float) for d in draws]
    value = float(np.mean([roc_auc(d, y) for d in scores]))
    rng = np.random.default_rng(seed)
    aucs: list[float] = []
    while len(aucs) < resamples:
        idx = _resample(rng, len(y), y)
        aucs.append(roc_auc(scores[len(aucs) % len(scores)][idx], y[idx]))
    return _percentile_interval(value, len(y), aucs)


def _resample(rng: np.random.Generator, n: int, labels: np.ndarray | None) -> np.ndarray:
    """n item indices drawn with replacement; with labels, drawn again until both are in (an AUC
    needs a positive and a negative)."""
    idx = rng.integers(n, size=n)
    while labels is not None and (labels[idx].all() or not labels[idx].any()):
        idx = rng.integers(n, size=n)
    return idx


@dataclass(frozen=True)
class Paired:
    """One benchmark's items under a reference strategy and another, as `auc_bootstrap` reads
    them: draws of per-item values (one for greedy, one per drawn k-subset for voting@k) and, for
    ROC-AUC, the items' labels; without labels the statistic is the mean (accuracy)."""

    reference: Sequence[Sequence[float]]
    other: Sequence[Sequence[float]]
    labels: Sequence[int] | None = None


def _statistic(values: np.ndarray, labels: np.ndarray | None) -> float:
    return float(values.mean()) if labels is None else roc_auc(values, labels)


def paired_difference(groups: Sequence[Paired], resamples: int = 1000, seed: int = 0) -> Estimate:
    """`other` minus `reference`, averaged over the groups (benchmarks), with a percentile
    bootstrap 95% interval: each resample draws every group's items with replacement, the same
    items for both strategies (resample r reads draw r mod the count, as `auc_bootstrap`). Paired,
    because two strategies judged on the same items share most outcomes: their own intervals
    overlap long after the difference between them is clear of zero."""
    data = [
        (
            np.asarray(g.reference, dtype=float),
            np.asarray(g.other, dtype=float),
            None if g.labels is None else np.asarray(g.labels, dtype=bool),
        )
        for g in groups
    ]

    # the point value: every item, every draw
    value = float(
        np.mean(
            [
                np.mean([_statistic(d, y) for d in other]) - np.mean([_statistic(d, y) for d in ref])
                for ref, other, y in data
            ]
        )
    )
    rng = np.random.default_rng(seed)
    resampled = []
    for r in range(resamples):
        total = 0.0
        for ref, other, y in data:
            idx = _resample(rng, ref.shape[1], y)
            y_idx = None if y is None else y[idx]
            total += _statistic(other[r % len(other)][idx], y_idx) - _statistic(ref[r % len(ref)][idx], y_idx)
        resampled.append(total / len(data))
    return _percentile_interval(value, sum(ref.shape[1] for ref, _, _ in data), resampled)


def overall(scores: dict[str, float]) -> float | None:
    """The paper's Overall: the mean of the four benchmarks, None unless all four were measured."""
    parts = ("RewardBench", "PPE Preference", "PPE Correctness", "RMB")
    return sum(scores[p] for p in parts) / len(parts) if all(p in scores for p in parts) else None
