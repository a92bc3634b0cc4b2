"""MBPP (974 Python problems), a training source of `spct data build`: each posed with its first
test as the example call; a candidate is right when all its tests pass (as HumanEval's)."""

from __future__ import annotations

import json
from pathlib import Path

from spct.eval.benchmarks import Task


def load(root: Path) -> list[Task]:
    """MBPP's 974 problems, posed with the first test as its example call; the tests check a candidate."""
    path = root / "mbpp" / "mbpp.jsonl"
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        tests = "\n".join([r.get("test_setup_code") or "", *r["test_list"]])
        query = f"{r['text']} Your code should pass this test:\n{r['test_list'][0]}"
        out.append(
            Task(
                f"mbpp-{r['task_id']}", query, r["code"].replace("\r\n", "\n").replace("\t", "    "), tests, "code", {}
            )
        )
    return out
