"""Principle drift: how specific a batch of judgments' principles are, and whether a critique and
its scores contradict each other. The SPCT how-to warns that under online RL "principles may become
too generic or contradictory"; these are the per-step numbers GRPO and RFT log to see it happen.

Specificity compares a judgment's principles with its own query and with the other queries of the
same batch: the share of the principles' content words found in the query. Generic principles
("Clear steps", "Correct grammar") overlap every query alike, so own minus other falls toward 0.
A contradiction is a response scored in the top fifth of the range while a sentence of the
critique naming it says it fails, or the response the critique's last verdict names best ("Response
2 is the best") while the scores do not single it out (word lists; a proxy, not a reading of the
critique). The second is what small GRMs do most: SmolLM2's RFT default names a best response and
scores another on most pairs where it names one (docs/real-grm.md)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from spct.core.items import Sample

_WORD = re.compile(r"[a-z0-9]+")
# fmt: off
STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of",
    "on", "or", "that", "the", "their", "this", "to", "was", "were", "will", "with",
    "response", "responses", "should", "must", "answer",  # every judging prompt has them
})
# fmt: on
FAILS = re.compile(
    r"\b(fail(s|ed)?|wrong|incorrect|violat(es|ed|ion)|does not|doesn't|did not|missing|lacks?|error|inaccurate)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")
VERDICT = re.compile(r"Response (\d+) is (?:the best|better|correct)", re.IGNORECASE)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP}


def _overlap(words: set[str], query: set[str]) -> float:
    return len(words & query) / len(words) if words else 0.0


def named_best(critique: str) -> int | None:
    """The shown position (1-based) that the critique's last verdict calls best, if it names one."""
    verdicts = VERDICT.findall(critique)
    return int(verdicts[-1]) if verdicts else None


def contradicted(sample: Sample, score_range: tuple[int, int]) -> list[bool]:
    """Per shown position: scored in the top fifth of `score_range` while a critique sentence
    naming 'Response p+1' says it fails, or named best by the critique's verdict while another
    response scores as high or higher."""
    if sample.scores is None:
        return []
    low, top = score_range
    high = low + round(0.8 * (top - low))
    sentences = _SENTENCE.split(sample.critique)
    best = named_best(sample.critique) if len(sample.order) > 1 else None
    out = []
    for position, original in enumerate(sample.order):
        name = re.compile(rf"\bResponse {position + 1}\b")
        failing = any(name.search(s) and FAILS.search(s) for s in sentences)
        outscored = best == position + 1 and any(
            sample.scores[other] >= sample.scores[original] for other in sample.order if other != original
        )
        out.append((failing and sample.scores[original] >= high) or outscored)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def principle_drift(judged: Sequence[tuple[str, Sample]], score_range: tuple[int, int]) -> dict[str, float]:
    """The drift numbers of one batch of (query text, sample) pairs; parsed samples only."""
    parsed = [(q, s) for q, s in judged if s.scores is not None]
    if not parsed:
        return {}
    queries = {q: content_words(q) for q, _ in parsed}
    own, other, counts, weighted, off_100, flags = [], [], [], [], [], []
    seen_for: dict[str, set[str]] = defaultdict(set)
    for q, s in parsed:
        words = content_words(" ".join(p.text for p in s.principles))
        own.append(_overlap(words, queries[q]))
        others = [_overlap(words, w) for oq, w in queries.items() if oq != q]
        if others:
            other.append(sum(others) / len(others))
        counts.append(len(s.principles))
        weighted += [p.weight is not None for p in s.principles]
        weights = [p.weight for p in s.principles]
        if weights and all(w is not None for w in weights):
            off_100.append(abs(sum(w for w in weights if w is not None) - 100) > 1)
        for p in s.principles:
            seen_for[" ".join(_WORD.findall(p.text.lower()))].add(q)
        flags += contradicted(s, score_range)
    result = {
        "principles/count": _mean(counts),
        "principles/own_query_overlap": _mean(own),
        "principles/contradictions": _mean(flags),
        "principles/weighted": _mean(weighted),
        "principles/weights_not_100": _mean(off_100),
    }
    if other:  # with one query in the batch there is nothing to compare with
        result["principles/other_query_overlap"] = _mean(other)
        result["principles/specificity"] = _mean(own) - _mean(other)
    texts = [t for t in seen_for if t]
    if len(queries) > 1 and texts:
        result["principles/shared_verbatim"] = sum(len(seen_for[t]) > 1 for t in texts) / len(texts)
    return result
