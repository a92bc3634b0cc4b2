"""Inference-time scaling on the miniature GRM, measured in one run against a naive baseline.

    python benchmarks/scaling.py                                  # the report in docs/scaling.md
    python benchmarks/scaling.py --items 16 --speed-items 4 --k-max 8 --out /tmp/scaling   # a quick look

Two parts, on the miniature world's test split:
1. Speed at k = 8 on `--speed-items` items: the naive baseline (one item at a time, k separate
   `generate` calls of one prompt) against batching across items, prefix sharing (`per_order`
   draws from one prefill) and the judgment cache (a rerun), plus adaptive voting against
   voting at k = 32: samples drawn, generated tokens, wall time, judgments/s, speed-up.
2. Accuracy against k on `--items` items from ONE sampling pass at `--k-max` (docs/method.md §7):
   greedy, voting@k (random subsets), adaptive voting replayed on the same draws (accuracy and
   samples used); with `--meta-rm`, meta-RM voting@k (top k/2 of each subset by the meta RM).
3. The openai backend against a local OpenAI-compatible server (`transformers serve` on the same
   checkpoint) on `--openai-items` items at k = 8: spct's samples/s against raw concurrent
   chat-completion requests for the same prompts at the same concurrency.

Prints the tables and writes `<out>.md`, `<out>.png` and `<out>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from report import table  # benchmarks/report.py
from rich.console import Console

from spct.backends.hf import HFBackend, device_name
from spct.backends.local_server import transformers_serve
from spct.core.items import Item, Judgment
from spct.core.vote import judgment_correct, sample_orders
from spct.grm import GRM, MINIATURE_MODEL
from spct.miniature.world import generate
from spct.scaling.curves import adaptive_at, meta_at, vote_at
from spct.scaling.meta_rm import MetaRM

SEQUENCES_PER_FORWARD = 32  # the batched configurations all decode this many sequences at once
MAX_NEW_TOKENS = 256  # miniature judgments take about 100 tokens; a runaway sample holds its whole batch


def judge(**kwargs) -> GRM:
    return GRM(max_new_tokens=MAX_NEW_TOKENS, **kwargs)


def run(grm: GRM, items: list[Item], k: int, item_batch: int, **strategy) -> dict:
    start = time.perf_counter()
    judgments = list(grm.score_items(items, k=k, batch_size=item_batch, **strategy))
    seconds = time.perf_counter() - start
    samples = sum(j.samples_used for j in judgments)
    return {
        "judgments": len(judgments),
        "samples": samples,
        "tokens": sum(s.n_tokens or 0 for j in judgments for s in j.samples),
        "seconds": seconds,
        "judgments/s": len(judgments) / seconds,
        "samples/s": samples / seconds,
        "accuracy": sum(judgment_correct(j, it) for j, it in zip(judgments, items, strict=True)) / len(items),
        "_judgments": judgments,
    }


def speed(model: str, items: list[Item], cache_dir: Path) -> list[dict]:
    """Each configuration on the same items; the first row is the baseline of the ratios."""
    naive = HFBackend(model, batch_size=1)
    batched = HFBackend(model, batch_size=SEQUENCES_PER_FORWARD)
    two, four = judge(backend=batched, per_order=2), judge(backend=batched, per_order=4)
    cached = judge(backend=batched, per_order=2, cache=cache_dir / "cache.sqlite")
    rows = [
        ("naive: one item, k generate calls", dict(grm=judge(backend=naive, per_order=1), k=8, item_batch=1)),
        ("batched across items", dict(grm=judge(backend=batched, per_order=1), k=8, item_batch=8)),
        ("batched + prefix sharing (2 per order)", dict(grm=two, k=8, item_batch=8)),
        ("batched + prefix sharing (4 per order)", dict(grm=four, k=8, item_batch=8)),
        ("cache, first run (2 per order)", dict(grm=cached, k=8, item_batch=8)),
        ("cache, rerun", dict(grm=cached, k=8, item_batch=8)),
        ("voting@32 (2 per order)", dict(grm=two, k=32, item_batch=16)),
        ("adaptive@32 (2 per order, rounds of 4)", dict(grm=two, k=32, item_batch=16, strategy="adaptive")),
    ]
    results = []
    for name, kwargs in rows:
        r = run(items=items, **kwargs)
        r.pop("_judgments")
        results.append({"configuration": name, "k": kwargs["k"], **r})
        Console(stderr=True).print(f"  {name}: {r['seconds']:.1f} s")
    base = results[0]["judgments/s"]
    for r in results:
        r["speed-up"] = r["judgments/s"] / base
    return results


def accuracy(model: str, items: list[Item], k_max: int, seed: int, meta_rm: str | None) -> tuple[list[dict], dict]:
    """Greedy, then one pass at k_max read as voting@k (and meta@k) and replayed as adaptive@k."""
    backend = HFBackend(model, batch_size=SEQUENCES_PER_FORWARD)
    greedy = run(judge(backend=backend), items, 1, 16)  # k = 1: one draw, per_order plays no part
    grm = judge(backend=backend, per_order=2)
    one_pass = run(grm, items, k_max, 8)
    judgments: list[Judgment] = one_pass["_judgments"]
    if meta_rm:
        scored = MetaRM(meta_rm).annotate(items, [j.samples for j in judgments])
        for j, samples in zip(judgments, scored, strict=True):
            j.samples = samples
    rng = random.Random(seed)
    rows = []
    for k in [2**i for i in range(k_max.bit_length()) if 2**i <= k_max]:
        replays = [
            adaptive_at(j, it, k, grm.template_for(it).score_range, round_size=4)
            for j, it in zip(judgments, items, strict=True)
        ]
        rows.append(
            {
                "k": k,
                "voting": sum(vote_at(j, it, k, rng) for j, it in zip(judgments, items, strict=True)) / len(items),
                "adaptive": sum(ok for ok, _ in replays) / len(items),
                "adaptive samples": sum(used for _, used in replays) / len(items),
                **(
                    {"meta": sum(meta_at(j, it, k, rng) for j, it in zip(judgments, items, strict=True)) / len(items)}
                    if meta_rm
                    else {}
                ),
            }
        )
    sweep = []
    for confidence in (0.8, 0.9, 0.95, 0.99, 1.0):
        replays = [
            adaptive_at(j, it, k_max, grm.template_for(it).score_range, round_size=4, confidence=confidence)
            for j, it in zip(judgments, items, strict=True)
        ]
        sweep.append(
            {
                "confidence": confidence,
                "accuracy": sum(ok for ok, _ in replays) / len(items),
                "samples per item": sum(used for _, used in replays) / len(items),
                "share of k": sum(used for _, used in replays) / (len(items) * k_max),
            }
        )
    summary = {
        "items": len(items),
        "greedy": greedy["accuracy"],
        "k_max": k_max,
        "pass seconds": one_pass["seconds"],
        "pass samples": one_pass["samples"],
        "pass tokens": one_pass["tokens"],
        "parse rate": sum(j.n_valid for j in judgments) / one_pass["samples"],
        "confidence sweep": sweep,
    }
    return rows, summary


def served(model: str, items: list[Item], k: int = 8, concurrency: int = 16) -> list[dict]:
    """spct's openai backend against the same requests sent raw, at the same concurrency."""
    import openai

    with transformers_serve(model) as base_url:
        grm = judge(model=model, backend="openai", base_url=base_url, max_concurrency=concurrency)
        prompts = [
            grm.template_for(it).render(it, order)
            for it in items
            for order in sample_orders(len(it.responses), k, grm.seed, it.id)
        ]

        async def raw() -> int:
            async with openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY") as client:
                slots = asyncio.Semaphore(concurrency)

                async def one(i: int, messages: list[dict]) -> int:
                    async with slots:
                        r = await client.chat.completions.create(
                            model=model,
                            messages=messages,
                            temperature=0.5,
                            max_tokens=grm.max_new_tokens,
                            seed=i,
                        )
                        return r.usage.completion_tokens if r.usage else 0

                return sum(await asyncio.gather(*(one(i, m) for i, m in enumerate(prompts))))

        asyncio.run(raw())  # warm-up: the server loads the model on its first request
        start = time.perf_counter()
        tokens = asyncio.run(raw())
        seconds = time.perf_counter() - start
        rows = [
            {
                "client": f"raw concurrent requests ({concurrency} in flight)",
                "samples": len(prompts),
                "tokens": tokens,
                "seconds": seconds,
                "samples/s": len(prompts) / seconds,
            }
        ]
        r = run(grm, items, k, item_batch=len(items))
        rows.append(
            {
                "client": f"spct openai backend (max_concurrency {concurrency})",
                "samples": r["samples"],
                "tokens": r["tokens"],
                "seconds": r["seconds"],
                "samples/s": r["samples/s"],
            }
        )
    for row in rows:
        row["ratio"] = row["samples/s"] / rows[0]["samples/s"]
    return rows


def plot(rows: list[dict], summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["k"] for r in rows]
    fig, (acc, cost) = plt.subplots(1, 2, figsize=(10, 4))
    acc.plot(ks, [100 * r["voting"] for r in rows], marker="o", label="voting@k")
    acc.plot(ks, [100 * r["adaptive"] for r in rows], marker="s", label="adaptive, budget k")
    if "meta" in rows[0]:
        acc.plot(ks, [100 * r["meta"] for r in rows], marker="^", label="meta RM voting@k (k/2 kept)")
    acc.axhline(100 * summary["greedy"], linestyle="--", color="grey", label="greedy")
    acc.set(xscale="log", xlabel="k", ylabel="strict accuracy (%)", title="Accuracy (one pass at k_max)")
    acc.set_xscale("log", base=2)
    acc.legend(fontsize=8)
    cost.plot(ks, ks, marker="o", label="voting@k")
    cost.plot(ks, [r["adaptive samples"] for r in rows], marker="s", label="adaptive")
    cost.set(xlabel="k", ylabel="samples drawn per item", title="Samples drawn")
    cost.set_xscale("log", base=2)
    cost.set_yscale("log", base=2)
    cost.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MINIATURE_MODEL)
    parser.add_argument("--items", type=int, default=96, help="test items for the accuracy curves")
    parser.add_argument("--speed-items", type=int, default=16, help="test items for the speed table")
    parser.add_argument("--k-max", type=int, default=32)
    parser.add_argument("--meta-rm", help="a trained meta RM: adds meta-RM voting@k to the accuracy table")
    parser.add_argument("--openai-items", type=int, default=4, help="items for the served comparison (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/scaling"), help="writes OUT.md, OUT.png, OUT.json")
    args = parser.parse_args()

    test = generate(args.items, "test", args.seed)
    console = Console(width=200)
    console.print(f"speed: {args.speed_items} items")
    with tempfile.TemporaryDirectory() as tmp:
        speed_rows = speed(args.model, test[: args.speed_items], Path(tmp))
    console.print(f"accuracy: {args.items} items, one pass at k = {args.k_max}")
    acc_rows, summary = accuracy(args.model, test, args.k_max, args.seed, args.meta_rm)
    served_rows = []
    if args.openai_items:
        console.print(f"openai backend: {args.openai_items} items against transformers serve")
        served_rows = served(args.model, test[: args.openai_items])

    speed_table, speed_md = table("Speed (k = 8 unless named)", speed_rows, percent=("accuracy",))
    acc_table, acc_md = table("Accuracy against k", acc_rows, percent=("voting", "adaptive", "meta"))
    sweep_table, sweep_md = table(
        f"Adaptive voting at k = {args.k_max} by confidence",
        summary["confidence sweep"],
        percent=("accuracy", "share of k"),
    )
    console.print(speed_table, acc_table, sweep_table)
    served_md = "not measured (--openai-items 0)"
    if served_rows:
        served_table, served_md = table("openai backend vs raw requests (k = 8)", served_rows)
        console.print(served_table)
    top = acc_rows[-1]
    verdict = (
        f"adaptive@{top['k']}: {100 * top['adaptive']:.1f}% vs voting@{top['k']} {100 * top['voting']:.1f}% "
        f"({100 * (top['adaptive'] - top['voting']):+.1f} points) with {top['adaptive samples']:.1f} samples per item "
        f"({100 * top['adaptive samples'] / top['k']:.0f}% of {top['k']}); greedy {100 * summary['greedy']:.1f}%"
    )
    k8 = {r["configuration"]: r for r in speed_rows}
    best = max(
        (r for r in speed_rows if r["k"] == 8 and not r["configuration"].startswith("cache")),
        key=lambda r: r["judgments/s"],
    )
    speed_verdict = (
        f"best uncached configuration at k = 8: {best['configuration']}, {best['speed-up']:.1f}x the naive baseline"
    )
    console.print(verdict, speed_verdict)

    meta_flag = f" --meta-rm {args.meta_rm}" if args.meta_rm else ""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(acc_rows, summary, args.out.with_suffix(".png"))
    args.out.with_suffix(".json").write_text(
        json.dumps({"speed": speed_rows, "accuracy": acc_rows, "served": served_rows, "summary": summary}, indent=1)
    )
    args.out.with_suffix(".md").write_text(
        f"""# Inference-time scaling on the miniature GRM

Generated by `python benchmarks/scaling.py --items {args.items} --speed-items {args.speed_items} \
--k-max {args.k_max}{meta_flag} --openai-items {args.openai_items}`
on model `{Path(args.model).name}`, {device_name()}, the in-process `hf` backend; every number below
comes from this one run.

## Speed

{args.speed_items} test items. The naive baseline judges one item at a time with k separate `generate`
calls of one prompt each. *Batched* sends all draws of 8 items to one backend call
({SEQUENCES_PER_FORWARD} sequences per forward pass). *Prefix sharing* draws `per_order` samples
from one prefill of one response order (k / per_order distinct orders per item). *Cache*: the
same run twice against one SQLite cache. *adaptive@32* draws rounds of 4 and stops an item once
its vote holds with predictive probability 0.95.

{speed_md}

{speed_verdict}; the cached rerun: {k8["cache, rerun"]["speed-up"]:.0f}x.

## Accuracy against k

{summary["items"]} test items; one pass of {args.k_max} samples per item at T = 0.5 with 2 samples per
response order ({summary["pass seconds"] / 60:.1f} min, {summary["pass tokens"]} generated tokens,
parse rate {100 * summary["parse rate"]:.1f}%). voting@k averages random k-subsets of those samples;
adaptive@k replays adaptive voting (rounds of 4, confidence 0.95) on the same draws in order.
Strict accuracy (docs/method.md §2). Greedy (T = 0): {100 * summary["greedy"]:.1f}%.

{acc_md}

{verdict}.

The confidence rule trades samples for accuracy; replayed on the same draws at k = {args.k_max}
(1.0 = stop only when the remaining budget cannot change the vote):

{sweep_md}

## The openai backend against a local server

`transformers serve` on the same checkpoint (CPU, one choice per request, so spct sends one
request per sample), {args.openai_items} items at k = 8: spct's backend against the same prompts sent
as raw concurrent `chat.completions` requests with the same concurrency.

{served_md}

![accuracy and samples against k](./{args.out.with_suffix(".png").name})
"""
    )


if __name__ == "__main__":
    main()
