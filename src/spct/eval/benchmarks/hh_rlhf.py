"""Anthropic HH-RLHF harmlessness pairs: two full transcripts sharing every turn but the last
assistant answer; the shared turns become the conversation, the two last answers the responses."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from spct.core.items import Item, Message
from spct.eval.benchmarks import Benchmark, field, pair, test_split

_TURN = re.compile(r"\n\n(Human|Assistant): ")


def turns(transcript: str) -> list[Message]:
    parts = _TURN.split(transcript)[1:]  # [role, text, role, text, ...]
    return [
        Message(role="user" if role == "Human" else "assistant", content=text.strip())
        for role, text in zip(parts[::2], parts[1::2], strict=True)
    ]


def load(root: str | Path, split: str = "test") -> list[Item]:
    path = Path(root) / "hh-rlhf" / "harmless-base" / f"{split}.jsonl.gz"
    items = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            record = json.loads(line)
            where = f"{path}:{i + 1}"
            chosen, rejected = turns(field(record, "chosen", where)), turns(field(record, "rejected", where))
            if chosen[:-1] != rejected[:-1] or chosen[-1].role != "assistant" or rejected[-1].role != "assistant":
                continue  # not a pair of answers to one conversation (a handful in the public file)
            items.append(
                pair(
                    f"hh-harmless-{i}", chosen[:-1], chosen[-1].content, rejected[-1].content, subset="hh-rlhf harmless"
                )
            )
    return items


BENCHMARK = Benchmark("hh-rlhf", load)
TEST = test_split(BENCHMARK)
