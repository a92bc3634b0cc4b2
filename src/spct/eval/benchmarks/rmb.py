"""RMB (docs/method.md §5): helpfulness and harmlessness, pairwise and best-of-N, from the authors' JSON
files; `meta["subset"]` is "<Helpfulness|Harmlessness> <pairwise|bon>", the four parts whose
mean is the RMB score. A best-of-N item shows all n responses at once (the paper's reading;
RMB's own protocol compares the best with each loser pairwise)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from spct.core.items import Item, Message
from spct.eval.benchmarks import Benchmark, field, mean_of_subsets, pair, test_split


def _conversation(turns: list[dict], where: str) -> list[Message]:
    return [Message(role=field(t, "role", where), content=field(t, "content", where)) for t in turns]


def load(root: str | Path) -> list[Item]:
    base = Path(root) / "rmb" / "RMB_dataset"
    items = []
    for path in sorted(base.glob("Pairwise_set/**/*.json")):
        goal = path.relative_to(base / "Pairwise_set").parts[0]
        for i, r in enumerate(json.loads(path.read_text())):
            where = f"{path} record {i}"
            items.append(
                pair(
                    f"rmb-pair-{field(r, 'pair_uid', where)}",
                    _conversation(field(r, "conversation_input", where), where),
                    field(field(r, "chosen", where), "answer", where),
                    field(field(r, "reject", where), "answer", where),
                    subset=f"{goal} pairwise",
                    category=r.get("category_path"),
                )
            )
    for path in sorted(base.glob("BoN_set/**/*.json")):
        goal = path.relative_to(base / "BoN_set").parts[0]
        for i, r in enumerate(json.loads(path.read_text())):
            where = f"{path} record {i}"
            uid = field(r, "bon_uid", where)
            responses = [field(field(r, "bon_best", where), "answer", where)]
            responses += [field(loser, "answer", where) for loser in field(r, "loser_list", where)]
            order = random.Random(uid).sample(range(len(responses)), len(responses))
            items.append(
                Item(
                    id=f"rmb-bon-{uid}",
                    query=_conversation(field(r, "conversation_input", where), where),
                    responses=[responses[o] for o in order],
                    best=order.index(0),
                    meta={"subset": f"{goal} bon", "category": r.get("category_path")},
                )
            )
    return items


BENCHMARK = Benchmark("rmb", load, aggregate=mean_of_subsets, paper="RMB")
TEST = test_split(BENCHMARK)
