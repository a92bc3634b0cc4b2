"""GSM8K's test split (1,319 grade-school word problems): the reference solution ends in "The
answer is N", and a candidate is right when the number after its last "The answer is" (or
"####") equals N."""

from __future__ import annotations

import json
import re
from pathlib import Path

from spct.eval.benchmarks import Task, field

_CALC = re.compile(r"<<[^>]*>>")  # the dataset's calculator annotations


NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def last_number(text: str) -> str:
    """The text's last number, commas and trailing decimal zeros removed ("" when there is none)."""
    found = NUMBER.findall(text)
    if not found:
        return ""
    value = found[-1].replace(",", "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def final_number(candidate: str) -> str:
    """The number after the last "The answer is" (or "####"); else the text's last number."""
    tail = re.split(r"The answer is|####", candidate)[-1]
    return last_number(tail) or last_number(candidate)


def load(root: Path) -> list[Task]:
    path = root / "gsm8k" / "test.jsonl"
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        r, where = json.loads(line), f"{path}:{i + 1}"
        steps, _, answer = _CALC.sub("", field(r, "answer", where)).rpartition("####")
        out.append(
            Task(
                f"gsm8k-{i}",
                field(r, "question", where),
                f"{steps.strip()}\nThe answer is {answer.strip()}.",
                last_number(answer),
                "number",
                {},
            )
        )
    return out
