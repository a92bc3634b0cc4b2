"""ReaLMistake (docs/method.md §5): single responses of GPT-4 and Llama-2-70B on three tasks, labelled
"error" or "no_error"; metric ROC-AUC. The subset is task and label, so that a per-subset limit
draws both labels. The authors ask that the examples not be published in plain text, so the
password-protected zip is read in memory only and nothing is written out."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from spct.core.items import Item
from spct.eval.benchmarks import Benchmark, field

PASSWORD = b"open-realmistake"  # published in the authors' README
TASKS = ("math_word_problem_generation", "finegrained_fact_verification", "answerability_classification")


def load(root: str | Path) -> list[Item]:
    path = Path(root) / "realmistake" / "data.zip"
    items = []
    with zipfile.ZipFile(path) as archive:
        archive.setpassword(PASSWORD)
        for name in sorted(archive.namelist()):
            task = name.split("/")[1] if name.count("/") == 2 else None
            if task not in TASKS or not name.endswith(".jsonl"):
                continue
            model = Path(name).stem
            for i, line in enumerate(archive.read(name).decode("utf-8").splitlines()):
                record = json.loads(line)
                where = f"{path}!{name}:{i + 1}"
                label = field(record, "error_label", where)
                if label not in ("error", "no_error"):
                    raise ValueError(f"{where}: field 'error_label' is {label!r}, not 'error' or 'no_error'")
                items.append(
                    Item(
                        id=f"realmistake-{task}-{model}-{i}",
                        query=field(record, "input", where),
                        responses=[field(record, "llm_response", where)],
                        rating=int(label == "no_error"),
                        meta={"subset": f"{task} {label}", "task": task, "model": model},
                    )
                )
    return items


BENCHMARK = Benchmark("realmistake", load, metric="ROC-AUC")
