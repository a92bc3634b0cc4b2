"""Principle drift (core/drift.py) against counts made by hand on written judgments."""

from __future__ import annotations

import pytest

from spct.core import make_sample
from spct.core.drift import contradicted, principle_drift

CAPITAL = "What is the capital of France?"
HAIKU = "Write a haiku about autumn leaves."
RANGE = (1, 10)  # "high" is 8 and above


def _sample(principles: str, critique: str, scores: str, order: list[int]):
    return make_sample(
        f"Specific Criteria:\n{principles}\n\nAnalysis:\n{critique}\n\nScores: \\boxed{{{scores}}}", order
    )


SPECIFIC = _sample(
    "1. Names Paris as the capital of France (Weight: 60%)\n2. Is brief (Weight: 40%)",
    "Response 1 is correct. Response 2 fails: it names Lyon.",
    "9, 2",
    [0, 1],
)
GENERIC = _sample("1. Is brief", "Response 1 fails to follow the form. Response 2 is a haiku.", "9, 3", [1, 0])


def test_contradictions_are_read_per_shown_response():
    assert contradicted(SPECIFIC, RANGE) == [False, False]  # the failing one scored 2
    # shown first is the original second response: 'Response 1 fails' yet its shown score is 9
    assert GENERIC.scores == [3, 9] and contradicted(GENERIC, RANGE) == [True, False]


def test_a_verdict_the_scores_overrule_is_a_contradiction():
    # shown first is the original second response; the verdict names it, the scores favour the other
    overruled = _sample("1. Is correct", "Response 1 is the best. It names Paris.", "4, 9", [1, 0])
    assert overruled.scores == [9, 4] and contradicted(overruled, RANGE) == [True, False]
    tie = _sample("1. Is correct", "Response 2 is better.", "7, 7", [0, 1])
    assert contradicted(tie, RANGE) == [False, True]  # named best, yet not singled out
    kept = _sample("1. Is correct", "Response 1 is correct. Later: Response 2 is the best.", "2, 8", [0, 1])
    assert contradicted(kept, RANGE) == [False, False]  # the last verdict counts, and the scores agree
    lone = make_sample(
        "Specific Criteria:\n1. Is correct\n\nAnalysis:\nResponse 1 is correct.\n\nScores: \\boxed{3}", [0]
    )
    assert contradicted(lone, RANGE) == [False]  # one response: nothing to outscore it


def test_drift_of_a_batch_by_hand():
    failed = make_sample("no scores here", [0, 1])
    got = principle_drift([(CAPITAL, SPECIFIC), (HAIKU, GENERIC), (HAIKU, failed)], RANGE)
    # content words: SPECIFIC {names, paris, capital, france, brief}, its query {what, capital, france}: 2 of 5;
    # GENERIC {brief} shares nothing with either query
    assert got == pytest.approx(
        {
            "principles/count": 1.5,
            "principles/own_query_overlap": (2 / 5 + 0) / 2,
            "principles/other_query_overlap": 0.0,
            "principles/specificity": 0.2,
            "principles/shared_verbatim": 1 / 2,  # "is brief" written for both queries
            "principles/contradictions": 1 / 4,
            "principles/weighted": 2 / 3,
            "principles/weights_not_100": 0.0,  # 60 + 40; GENERIC has no weights to sum
        }
    )
    assert principle_drift([(HAIKU, failed)], RANGE) == {}
    assert "principles/specificity" not in principle_drift([(CAPITAL, SPECIFIC)], RANGE)  # nothing to compare with
