"""One file per benchmark, each owning its data, metric and aggregation: a `Benchmark` whose
`load(root)` maps the published files to core Items (pairs and best-of-N lists with `best`, single
responses with `rating`), `meta["subset"]` naming the subset its metric groups by, and whose
`aggregate` turns the per-subset outcomes into its score. `root` is the folder holding the files
(here ../shared/data). `spct eval`'s registry lists them."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import gzip
import io
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from spct.core.items import Item, Message, query_text
from spct.miniature.world import split_of

# where `spct data build` puts a query (by a hash of its text): train, validation or test
TRAINING_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def training_split(text: str) -> str:
    """The split of a query text in spct's training data, fixed by its hash; evaluations that
    draw from a source spct also trains on (GSM8K, MATH-500) keep out of "train"."""
    return split_of(text, TRAINING_SPLITS)


def mean_of_items(by_subset: dict[str, list[float]]) -> dict:
    """The score as the mean over every item (the default)."""
    values = [v for vs in by_subset.values() for v in vs]
    return {"score": sum(values) / len(values)}


def mean_of_subsets(by_subset: dict[str, list[float]]) -> dict:
    """The score as the mean of the subsets' accuracies (RMB's parts, PPE Correctness's sources)."""
    return {"score": sum(sum(vs) / len(vs) for vs in by_subset.values()) / len(by_subset)}


@dataclass(frozen=True)
class Benchmark:
    """What `spct eval` needs of a benchmark. `metric` is "accuracy" (an outcome per item: the
    labelled best has the top reward, or a lone response's score rounds to its rating) or
    "ROC-AUC" (every item a lone response whose mean score ranks against its rating)."""

    name: str
    load: Callable[[Path], list[Item]]
    metric: str = "accuracy"
    aggregate: Callable[[dict[str, list[float]]], dict] = mean_of_items  # outcomes by subset -> {"score": ...}
    paper: str | None = None  # its column among the paper's four Overall benchmarks
    left_out: dict[str, int] = dataclasses.field(default_factory=dict)  # records its last load left out, by reason
    # an item's outcome from its rewards, where the benchmark scores items its own way (RewardBench
    # 2: a tie at the top shares the point; Ties from margins); None: the labelled best must win
    value: Callable[[list[int] | None, Item], float] | None = None


@dataclass
class Task:
    """A problem with a checkable answer (GSM8K, MATH-500, HumanEval, MBPP): what `spct reasoning`
    selects candidates for and `spct data build` turns into verifiable pairs."""

    id: str
    query: str
    reference: str  # a right solution
    answer: str  # its final answer (GSM8K, MATH) or, for code, the test program
    kind: str  # "number", "math" or "code": which module's check applies
    meta: dict


def test_split(benchmark: Benchmark) -> Benchmark:
    """A benchmark spct trains on, cut to its test split (`spct data build`): in-distribution."""

    def load(root: Path) -> list[Item]:
        return [it for it in benchmark.load(root) if training_split(query_text(it)) == "test"]

    return replace(benchmark, name=f"{benchmark.name}-test", load=load, paper=None)


def pair(id: str, query: str | list[Message], chosen: str, rejected: str, **meta) -> Item:
    """A pair with the chosen response at a position seeded by the id, so that a judge that
    favours a position gains nothing on average, and a rerun sees the same order."""
    first = random.Random(id).random() < 0.5
    return Item(
        id=id,
        query=query,
        responses=[chosen, rejected] if first else [rejected, chosen],
        best=0 if first else 1,
        meta=meta,
    )


class MissingField(ValueError):
    """A record of a benchmark file lacks a field its loader needs."""


def field(record: dict, name: str, where: str):
    if name not in record:
        raise MissingField(f"{where}: field {name!r} is missing (has: {', '.join(sorted(record)) or 'nothing'})")
    return record[name]


TABLES = (".parquet", ".jsonl", ".json", ".csv")


def records(folder: Path, hub: str, split: str) -> Iterator[tuple[str, dict]]:
    """(where, record) for each record of a benchmark published as a table: from its files under
    `folder` (Parquet, JSON, JSONL or CSV, gzipped or not; or that one file) when it exists, else
    from the hub dataset `hub` (which needs network)."""
    if folder.exists():
        found = [folder] if folder.is_file() else folder.rglob("*")
        files = sorted(p for p in found if p.name.removesuffix(".gz").endswith(TABLES))
        if not files:
            raise FileNotFoundError(f"{folder}: no {', '.join(TABLES)} file in it")
        for path in files:
            for i, record in enumerate(read_table(path)):
                yield f"{path} record {i}", record
        return
    from datasets import load_dataset

    try:
        table = load_dataset(hub, split=split)
    except Exception as error:  # no network, no such dataset: say where the files could go instead
        raise FileNotFoundError(
            f"{folder} does not exist and the hub dataset {hub} (split {split}) could not be loaded ({error}); "
            f"put its published files in {folder}"
        ) from error
    for i, record in enumerate(table):
        yield f"{hub}[{split}] record {i}", record


def read_table(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    text = raw.decode("utf-8")
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if name.endswith(".json"):
        return json.loads(text)
    return list(csv.DictReader(io.StringIO(text)))


def listed(value, where: str, name: str) -> list:
    """A list-valued field, also when a CSV file holds it as JSON text."""
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if not isinstance(value, list):
        raise ValueError(f"{where}: field {name!r} is not a list ({str(value)[:60]!r})")
    return value
