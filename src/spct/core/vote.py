"""Shuffling, voting and the correctness rule of one judgment (docs/method.md §2-3).

Each sample shows the responses in its own seeded order (position bias averages out over k
samples); its scores are mapped back to the original order before they are summed.
"""

from __future__ import annotations

import random
from collections import Counter

from spct.core.items import Item, Judgment, Sample
from spct.core.parse import parse_judgment


def sample_orders(n: int, k: int, seed: int, item_id: str, shuffle: bool = True) -> list[list[int]]:
    """k response orders for one item, reproducible from (seed, item id) alone, so that an item's
    samples do not depend on which other items share its batch. They come in blocks of the n
    rotations of a random order: over a block every response is shown once in every position, so
    a judge that favours a position (small GRMs mostly score the last-shown response higher)
    adds the same to every response's vote instead of to whichever the draw favoured."""
    if not shuffle:
        return [list(range(n)) for _ in range(k)]
    rng = random.Random(f"{seed}:{item_id}")
    orders: list[list[int]] = []
    while len(orders) < k:
        base = rng.sample(range(n), n)
        orders += [base[r:] + base[:r] for r in range(n)]
    return orders[:k]


def unshuffle(shown: list[int], order: list[int]) -> list[int]:
    """Scores in shown order -> scores in original order."""
    scores = [0] * len(order)
    for position, original in enumerate(order):
        scores[original] = shown[position]
    return scores


def make_sample(
    text: str,
    order: list[int],
    *,
    score_range: tuple[int, int] = (1, 10),
    finish_reason: str | None = None,
    n_tokens: int | None = None,
    lenient: bool = False,
) -> Sample:
    parsed = parse_judgment(text, len(order), score_range=score_range, finish_reason=finish_reason, lenient=lenient)
    return Sample(
        order=order,
        text=text,
        principles=parsed.principles,
        critique=parsed.critique,
        scores=unshuffle(parsed.scores, order) if parsed.scores is not None else None,
        failure=parsed.failure,
        finish_reason=finish_reason,
        n_tokens=n_tokens,
    )


def vote(item_id: str, n: int, samples: list[Sample], strategy: str = "voting", k: int | None = None) -> Judgment:
    """Sum the scores of the valid samples kept for the vote (Eq. 14); failed samples are skipped
    and counted. `n_valid` counts the samples summed."""
    valid = [s.scores for s in samples if s.scores is not None and s.in_vote]
    failures = Counter(s.failure.split(":", 1)[0] for s in samples if s.failure)
    rewards = [sum(col) for col in zip(*valid, strict=True)] if valid else None
    ties: list[int] = []
    best = None
    if rewards is not None:
        top = max(rewards)
        ties = [i for i, r in enumerate(rewards) if r == top]
        best = ties[0] if len(ties) == 1 else None
        ties = ties if len(ties) > 1 else []
    return Judgment(
        id=item_id,
        n_responses=n,
        strategy=strategy,
        k=k if k is not None else len(samples),
        samples=samples,
        rewards=rewards,
        best=best,
        ties=ties,
        n_valid=len(valid),
        n_failed=sum(s.scores is None for s in samples),
        failures=dict(failures),
    )


def is_correct(scores: list[int] | None, item: Item) -> bool:
    """docs/method.md §2, strict: the labelled best response must score above every other (a tie at the
    top is wrong); a single response must score exactly its rating. Unparsed scores are wrong.
    The one rule behind RFT rejection, the GRPO reward, meta-RM labels and strict accuracy."""
    if scores is None:
        return False
    if item.best is not None:
        return all(scores[item.best] > s for i, s in enumerate(scores) if i != item.best)
    if item.rating is not None:
        return scores[0] == item.rating
    raise ValueError(f"item {item.id}: no ground truth (best or rating) to judge correctness by")


def judgment_correct(judgment: Judgment, item: Item) -> bool:
    """Strict accuracy of a voted judgment: the unique top reward is the labelled best (a tie is
    wrong); for one response, the mean score over valid samples must round unambiguously to the
    rating (with one sample: equal it, as in `is_correct`)."""
    if judgment.rewards is None:
        return False
    if item.best is not None:
        return judgment.best == item.best
    if item.rating is not None:
        return abs(judgment.rewards[0] / judgment.n_valid - item.rating) < 0.5
    raise ValueError(f"item {item.id}: no ground truth (best or rating) to judge correctness by")


def normalised_rewards(judgment: Judgment, score_range: tuple[int, int]) -> list[float] | None:
    """Each response's mean valid score mapped to [0, 1] (the template's lowest score to 0, its
    highest to 1), for callers that want one comparable float per response (RL rewards). None when
    no sample parsed: the caller decides what an unjudged response is worth, never a silent 0."""
    if judgment.rewards is None:
        return None
    low, high = score_range
    return [(r / judgment.n_valid - low) / (high - low) for r in judgment.rewards]
