"""Batch scoring on Ray, for when one machine is not enough.

    spct score items.jsonl -o judgments.jsonl --ray --ray-workers 4 -k 8       # any JSONL, resumable
    spct score items.jsonl -o judgments.parquet --ray                          # Parquet out
    spct score items.jsonl -o j.jsonl --ray --backend openai --base-url http://vllm-router:8000/v1 --model NAME

Ray Data `map_batches` over a pool of actors, each holding one GRM (its backend: a model in
process, or a client of an OpenAI-compatible server pool; for large models run vLLM servers and
give the workers their router's address, so that the GPUs serve and the actors only orchestrate).
The driver validates the input (bad records are reported by line and field, the rest go on), skips
ids already in the output with `resume`, and writes each judgment as its batch finishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from spct.core.items import Item
from spct.io import JsonlWriter


class Worker:
    """One actor: builds its GRM once, then judges batches of items (as JSON text)."""

    def __init__(self, grm_kwargs: dict, k: int, options: dict):
        from spct.grm import GRM

        self.grm = GRM(**grm_kwargs)
        self.k = k
        self.options = options

    def __call__(self, batch: dict) -> dict:
        items = [Item.model_validate_json(text) for text in batch["item"]]
        judgments = self.grm.score_batch(items, self.k, **self.options)
        return {"id": [j.id for j in judgments], "judgment": [j.model_dump_json() for j in judgments]}


def score_on_ray(
    items: Iterable[Item],
    output: Path,
    *,
    grm_kwargs: dict,
    k: int,
    options: dict,
    workers: int,
    batch_size: int,
    append: bool,
) -> int:
    """Judge `items` on the Ray cluster this process is connected to (a local one is started if
    none is); returns how many were judged."""
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    rows = [{"item": it.model_dump_json()} for it in items]
    if not rows:
        return 0
    judged = ray.data.from_items(rows).map_batches(
        Worker,
        fn_constructor_kwargs={"grm_kwargs": grm_kwargs, "k": k, "options": options},
        batch_size=batch_size,
        concurrency=workers,
        batch_format="numpy",
    )
    if output.suffix == ".parquet":  # Ray writes a folder of Parquet files
        judged.write_parquet(str(output))
        return len(rows)
    with JsonlWriter(output, append=append) as writer:
        for row in judged.iter_rows():
            writer.write(json.loads(row["judgment"]))
    return len(rows)
