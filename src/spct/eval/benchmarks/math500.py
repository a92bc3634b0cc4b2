"""MATH-500 (the 500-problem test subset of MATH): a candidate is right when its last \\boxed{}
answer, normalised (spacing, \\left/\\right, dfrac), equals the reference's."""

from __future__ import annotations

import json
from pathlib import Path

from spct.eval.benchmarks import Task, field


def last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed{")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth < 0:
            return text[i:j]
    return None


def normalise_math(answer: str | None) -> str:
    if answer is None:
        return ""
    for old, new in (
        ("\\left", ""),
        ("\\right", ""),
        ("\\!", ""),
        ("dfrac", "frac"),
        ("tfrac", "frac"),
        ("^\\circ", ""),
        ("^{\\circ}", ""),
        ("\\$", ""),
        ("$", ""),
        (" ", ""),
        ("\\,", ""),
    ):
        answer = answer.replace(old, new)
    return answer.rstrip(".")


def load(root: Path) -> list[Task]:
    path = root / "math500" / "test.jsonl"
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        out.append(
            Task(
                f"math500-{i}",
                field(r, "problem", where),
                field(r, "solution", where),
                field(r, "answer", where),
                "math",
                {"subject": field(r, "subject", where)},
            )
        )
    return out
