"""HumanEval (164 Python functions): a candidate is right when the problem's tests pass on it, run
in a fresh interpreter with a timeout (a looping candidate is wrong, not a hang)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from spct.eval.benchmarks import Task, field


def passes(program: str, timeout: float = 10.0) -> bool:
    """True if `program` (solution + tests) exits cleanly in a fresh interpreter within `timeout`."""
    try:
        return subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def load(root: Path) -> list[Task]:
    path = root / "humaneval" / "HumanEval.jsonl.gz"
    out = []
    for i, line in enumerate(gzip.decompress(path.read_bytes()).decode().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        prompt, entry_point = field(r, "prompt", where), field(r, "entry_point", where)
        out.append(
            Task(
                f"humaneval-{i}",
                f"Complete this Python function.\n\n```python\n{prompt}```",
                prompt + field(r, "canonical_solution", where),
                f"{field(r, 'test', where)}\ncheck({entry_point})\n",
                "code",
                {"prompt": prompt, "entry_point": entry_point},
            )
        )
    return out
