"""RewardBench (docs/method.md §5): its published filtered set (prompt, chosen, rejected, subset; files
under `<data>/reward-bench/`, else `allenai/reward-bench` split filtered from the hub), or, where
only they are at hand, the sources of two sections that ../shared/data holds: Chat Hard from
LLMBar's five subsets and Reasoning from HumanEvalPack's six languages (canonical vs buggy)."""

from __future__ import annotations

import json
from pathlib import Path

from spct.core.items import Item
from spct.eval.benchmarks import Benchmark, field, pair, records
from spct.eval.metrics import section_scores

LLMBAR = {
    "llmbar-natural": "Natural",
    "llmbar-adver-neighbor": "Adversarial/Neighbor",
    "llmbar-adver-GPTInst": "Adversarial/GPTInst",
    "llmbar-adver-GPTOut": "Adversarial/GPTOut",
    "llmbar-adver-manual": "Adversarial/Manual",
}
HEP = ("cpp", "go", "java", "js", "python", "rust")


def load_published(path: str | Path) -> list[Item]:
    """The filtered set as reward-bench publishes it (columns prompt, chosen, rejected, subset, id):
    the files at `path` (a file or a folder), else the hub."""
    items = []
    for i, (where, record) in enumerate(records(Path(path), "allenai/reward-bench", "filtered")):
        items.append(
            pair(
                f"rb-{record.get('id', i)}",
                field(record, "prompt", where),
                field(record, "chosen", where),
                field(record, "rejected", where),
                subset=field(record, "subset", where),
            )
        )
    return items


def load_llmbar(root: str | Path) -> list[Item]:
    items = []
    for subset, folder in LLMBAR.items():
        path = Path(root) / "llmbar" / "LLMBar" / folder / "dataset.json"
        for i, record in enumerate(json.loads(path.read_text())):
            where = f"{path} record {i}"
            outputs = [field(record, "output_1", where), field(record, "output_2", where)]
            better = field(record, "label", where) - 1
            items.append(
                pair(
                    f"{subset}-{i}", field(record, "input", where), outputs[better], outputs[1 - better], subset=subset
                )
            )
    return items


def load_hep(root: str | Path) -> list[Item]:
    items = []
    for lang in HEP:
        path = Path(root) / "humanevalpack" / "data" / lang / "data" / "humanevalpack.jsonl"
        for i, line in enumerate(path.read_text().splitlines()):
            record = json.loads(line)
            where = f"{path}:{i + 1}"
            head = field(record, "declaration", where)
            items.append(
                pair(
                    f"hep-{lang}-{i}",
                    field(record, "instruction", where),
                    head + field(record, "canonical_solution", where),
                    head + field(record, "buggy_solution", where),
                    subset=f"hep-{lang}",
                )
            )
    return items


def load(root: str | Path) -> list[Item]:
    """The published set where it is (or can be fetched); the offline sources where only they are."""
    root = Path(root)
    if not (root / "reward-bench").exists() and (root / "llmbar").exists():
        return load_llmbar(root) + load_hep(root)
    return load_published(root / "reward-bench")


def sections(by_subset: dict[str, list[float]]) -> dict:
    """RewardBench's score: the mean of its measured sections (offline: Chat Hard and Reasoning)."""
    found = section_scores(
        {s: sum(v) / len(v) for s, v in by_subset.items()}, {s: len(v) for s, v in by_subset.items()}
    )
    found.pop("RewardBench", None)
    return {"score": sum(found.values()) / len(found), "sections": found}


BENCHMARK = Benchmark("rewardbench", load, aggregate=sections, paper="RewardBench")
