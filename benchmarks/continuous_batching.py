"""transformers' continuous batching (`generate_batch`: a paged cache, finished sequences leave
the batch, a prompt's samples share its blocks) against spct's hf backend, on the same judging
prompts of the real default (docs/performance.md).

    python benchmarks/continuous_batching.py --items 2          # 2 items x 4 orders x 2 samples

Each engine runs in its own process (peak RSS apart); the prompts are those of
benchmarks/throughput.py (RewardBench offline and RMB pairwise, 1,000-1,600 tokens), k = 8 as
4 response orders x 2 samples, T = 0.5.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from throughput import pick_items  # benchmarks/throughput.py
from transformers import ContinuousBatchingConfig, GenerationConfig

from spct.backends.base import Sampling
from spct.backends.hf import HFBackend
from spct.core.defaults import SCORING
from spct.core.vote import sample_orders
from spct.grm import DEFAULT_MODEL, GRM

PER_ORDER = 2


def measure(engine: str, args: argparse.Namespace) -> dict:
    backend = HFBackend(args.model)
    items = pick_items(args.data, args.items, 1000, 1600, backend, 0)
    grm = GRM(backend=backend, max_new_tokens=args.max_new_tokens)
    prompts = [
        grm.template_for(it).render(it, order)
        for it in items
        for order in sample_orders(len(it.responses), args.k // PER_ORDER, grm.seed, it.id)
    ]
    start = time.perf_counter()
    if engine == "spct":
        sampling = Sampling(
            n=PER_ORDER,
            temperature=SCORING.sampled_temperature,
            top_p=SCORING.top_p,
            max_new_tokens=args.max_new_tokens,
        )
        generated = sum(c.n_tokens or 0 for group in backend.generate(prompts, sampling) for c in group)
    else:
        config = GenerationConfig(
            do_sample=True,
            temperature=SCORING.sampled_temperature,
            top_p=SCORING.top_p,
            num_return_sequences=PER_ORDER,
            max_new_tokens=args.max_new_tokens,
            eos_token_id=sorted(backend.eos_ids),
            pad_token_id=backend.tokenizer.pad_token_id,
        )
        ids = [backend.chat([p], tokenize=True)["input_ids"][0] for p in prompts]
        paged = ContinuousBatchingConfig(max_batch_tokens=512, num_blocks=256)
        out = backend.model.generate_batch(
            ids, generation_config=config, continuous_batching_config=paged, warmup=False
        )
        generated = sum(len(r.generated_tokens) for r in out.values())
    seconds = time.perf_counter() - start
    return {
        "engine": engine,
        "sequences": len(prompts) * PER_ORDER,
        "generated tokens": generated,
        "seconds": round(seconds, 1),
        "generated tokens/s": round(generated / seconds, 1),
        "peak RSS MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--items", type=int, default=2)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=320)
    ap.add_argument("--engine", choices=["spct", "continuous"], help="measure one engine here (a child run)")
    args = ap.parse_args()
    if args.engine:
        print(json.dumps(measure(args.engine, args)))
        return
    rows = []
    for engine in ("spct", "continuous"):
        child = [sys.executable, __file__, "--engine", engine, *sys.argv[1:]]
        rows.append(
            json.loads(subprocess.run(child, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        )
    table = Table(*rows[0])
    for row in rows:
        table.add_row(*map(str, row.values()))
    Console().print(table)
    print(f"continuous / spct, generated tokens/s: {rows[1]['generated tokens/s'] / rows[0]['generated tokens/s']:.2f}")


if __name__ == "__main__":
    main()
