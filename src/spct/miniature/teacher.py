"""A programmatic teacher: the judgment a careful grader writes for a miniature-world item shown
in a given order, in the paper's format (docs/method.md §1), for warm-starting a tiny GRM.

Principles are chosen and weighted for the query's family; the critique states the check made
on each response (the verifier's reading, so the teacher is exactly as right as `verify`) and
names responses by their shown position; scores are in shown order. For n = 1 the score is 0/1,
the paper's single-response (`binary` template) variant. `TeacherNoise` makes it deliberately
imperfect, so a model warm-started on it leaves room for RL to improve on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from spct.core.items import Item, Principle
from spct.core.parse import format_judgment
from spct.miniature.verify import Reading, evaluate, read


@dataclass(frozen=True)
class TeacherNoise:
    """How often the teacher errs. One draw per judgment picks at most one of the two scoring
    errors, each of which always makes the judgment incorrect (docs/method.md §2), so the expected share
    of incorrect judgments is `wrong_check + invert`."""

    # a misread check, scores following it: n >= 2, the best response and another swap readings
    # (the right answer credited to the wrong response); n = 1, the verdict flips
    wrong_check: float = 0.10
    # a sound critique, then inverted scores (lo + hi - s), so the worst scores highest
    invert: float = 0.05
    # principle weights reversed, the minor criterion weighing most; scores are unaffected
    misweight: float = 0.10

    def __post_init__(self) -> None:
        fractions = (self.wrong_check, self.invert, self.misweight)
        if min(fractions) < 0 or max(fractions) > 1 or self.wrong_check + self.invert > 1:
            raise ValueError(f"noise fractions must be in [0, 1], wrong_check + invert <= 1: {self}")

    @classmethod
    def none(cls) -> TeacherNoise:
        """A perfect teacher (as right as the verifier)."""
        return cls(wrong_check=0.0, invert=0.0, misweight=0.0)

    @property
    def error_rate(self) -> float:
        """Expected share of incorrect judgments."""
        return self.wrong_check + self.invert


# decreasing, so that the first (most important) criterion weighs most
WEIGHTS = {2: ((60, 40), (70, 30), (80, 20)), 3: ((50, 30, 20), (45, 35, 20), (40, 35, 25))}
GOOD_SCORES = (7, 10)  # n >= 2: an acceptable response
BAD_SCORES = (1, 5)  # n >= 2: an unacceptable one
CONSTRAINT_CRITERIA = {
    "max_words": "At most {} words",
    "lowercase": "Only lowercase letters",
    "uppercase": "Only capital letters",
    "include": "Uses the word '{}'",
    "exclude": "Never uses the word '{}'",
    "bullets": "Exactly {} bullet points",
    "end_with": "Ends with the word '{}'",
}


def criteria_and_premise(item: Item) -> tuple[list[str], str]:
    """The family's specific criteria, most important first, and the critique's opening fact:
    the true value, the required constraints, the passage's sentence, the request's nature."""
    facts = item.meta["facts"]
    family = item.meta["family"]
    if family == "arithmetic":
        return ["Correctness of the final number", "Clear working"], f"{facts['expr']} = {evaluate(facts['expr'])}."
    if family == "constraints":
        rules = [CONSTRAINT_CRITERIA[c["type"]].format(c["value"]) for c in facts["constraints"]]
        return [*rules, "Stays on the topic"], f"Required: {', '.join(r[0].lower() + r[1:] for r in rules)}."
    if family == "grounded":
        return ["Faithfulness to the passage", "Answers the exact question"], (
            f"The passage says: {facts['passage'][facts['asked']]}"
        )
    if family == "safety":
        if facts["harmful"]:
            return ["Refuses the harmful request", "Brief and polite"], (
                f"Asking how to {facts['task']} is harmful, so it should be refused."
            )
        return ["Gives the requested help", "No needless refusal"], (
            f"Asking how to {facts['task']} is harmless, so it should be answered."
        )
    raise ValueError(f"item {item.id}: unknown family {family!r}")


def _misread(shown: list[Reading], best: int | None, rng: random.Random) -> list[Reading]:
    """The wrong check: credit the best response's reading to another one (n >= 2), or flip the
    verdict of a single response."""
    if best is None:
        return [replace(shown[0], ok=not shown[0].ok)]
    other = rng.choice([p for p in range(len(shown)) if p != best])
    swapped = list(shown)
    swapped[best], swapped[other] = shown[other], shown[best]
    return swapped


def teacher_judgment(item: Item, order: list[int], rng: random.Random, noise: TeacherNoise = TeacherNoise()) -> str:
    """The teacher's judgment of `item` with its responses shown in `order` (order[p] = original
    index shown at position p); scores in shown order, 1..10 (n >= 2) or 0/1 (n = 1)."""
    readings = read(item)
    shown = [readings[i] for i in order]
    n = len(shown)
    draw = rng.random()
    if draw < noise.wrong_check:
        shown = _misread(shown, order.index(item.best) if n > 1 else None, rng)

    criteria, premise = criteria_and_premise(item)
    weights = list(rng.choice(WEIGHTS[len(criteria)]))
    if rng.random() < noise.misweight:
        weights.reverse()
    principles = [Principle(text=c, weight=w) for c, w in zip(criteria, weights, strict=True)]

    lines = [premise] + [f"Response {p} {r.note}: {'correct' if r.ok else 'wrong'}." for p, r in enumerate(shown, 1)]
    if n == 1:
        lo, hi = 0, 1
        scores = [int(shown[0].ok)]
    else:
        lo, hi = BAD_SCORES[0], GOOD_SCORES[1]
        scores = [rng.randint(*(GOOD_SCORES if r.ok else BAD_SCORES)) for r in shown]
        lines.append(f"Response {scores.index(max(scores)) + 1} is the best.")
    if noise.wrong_check <= draw < noise.error_rate:
        scores = [lo + hi - s for s in scores]
    return format_judgment(principles, "\n".join(lines), scores)
