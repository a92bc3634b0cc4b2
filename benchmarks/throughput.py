"""Throughput of k-sample judging on the real default GRM, against the baselines a user would write,
a dedicated engine and the machine's limits, in one run (docs/performance.md).

    python benchmarks/throughput.py --llama-venv /work/llama-venv        # the report in docs/performance.md
    python benchmarks/throughput.py --items 2 --k 4 --max-new-tokens 24 --parts micro rows --out /tmp/tp  # a look

The model is the embedded default (SmolLM2-135M-Instruct with spct's adapter, merged), in the hf
backend's default dtype (bf16 on a CPU with AMX, else fp32) unless named. Items: `--items` real
judging prompts of `--min-tokens`..`--max-tokens` tokens, half from RewardBench's offline sections
(held out) and half from RMB's pairwise test split. Parts:

- micro: the machine's ceilings. Memory bandwidth (a 1 GiB read) and fp32 GEMM FLOP/s; then, on
  one real prompt, prefill tokens/s and decode tokens/s at each `--decode-batches` size, fp32 and
  bf16, beside the bandwidth ceiling (weight bytes read per decode step) and the compute ceiling
  (2 FLOP per parameter per token) at that batch.
- rows: k = `--k` judgments of every item, each configuration on the same items: the naive loop (k
  `generate` calls per item); HF `generate(num_return_sequences=k)` one item at a time (one
  response order, each copy prefilled: the baseline a user writes first); spct batched across
  items at two batch sizes; + prefix sharing (2 and 4 samples per order) at both; the fastest of
  those with every row of a batch kept until its longest ends (one `generate` call per batch, as
  spct decoded before finished rows left the batch), and with the prompt's cache copied to each
  sample (as spct did before its samples read it once); + principles written once from the
  query; the judgment cache (first run and rerun); the spct CLI as a user runs it (its peak RSS
  measured as a separate process), by default and one item per call, each also with glibc mapping
  every block of 1 MiB or more. Per row: judgments/s, generated and prefilled
  tokens, peak RSS, parse rate and accuracy (few items: a sanity check, not a result).
- dtype: `spct score`'s configuration (core/defaults.py) with fp32 and with bf16 weights: bf16 was
  1.5x fp32 on a CPU with AMX (docs/performance.md), far slower on one without (not in the
  default parts; run it where the CPU has AMX).
- served: llama.cpp through llama-cpp-python's OpenAI-compatible server (built in `--llama-venv`
  by this script when missing, about 13 min) on the default exported as an f16 GGUF: raw
  concurrent chat requests against spct's openai backend at the same concurrency.
- adaptive: one pass at k = 32 in the best configuration, read as voting@32 and replayed as
  adaptive voting (rounds of 4, confidence 0.8, 0.9 and 0.95): accuracy and samples used.

Every part appends its rows to `<out>.json` as it ends; a rerun skips what is there (`--fresh`
starts over). Prints the tables and writes `<out>.md`, `<out>.png` and, with the `spct score`
rows, `<out>-memory.png` (each one's peak RSS as the imports, the weights and the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import psutil
import torch
from report import table  # benchmarks/report.py
from rich.console import Console
from transformers import DynamicCache

from spct.backends.export import export
from spct.backends.hf import AnyFinished, HFBackend, bf16_is_fast, device_name, growing_cache
from spct.backends.local_server import free_port, local_server
from spct.core.defaults import SCORING
from spct.core.items import Item, Judgment
from spct.core.vote import judgment_correct, make_sample, sample_orders, vote
from spct.eval.benchmarks import rewardbench, rmb
from spct.eval.run import subsample
from spct.grm import DEFAULT_MODEL, GRM
from spct.io import figure
from spct.scaling.curves import adaptive_at

console = Console(width=200)
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"


# -- items ---------------------------------------------------------------------------------------


def pick_items(data: Path, n: int, lo: int, hi: int, backend: HFBackend, seed: int) -> list[Item]:
    """n // 2 RewardBench offline and n - n // 2 RMB pairwise test items whose prompts are lo..hi tokens."""
    grm = GRM(backend=backend)
    pools = [
        subsample(rewardbench.BENCHMARK.load(data), 6, seed),
        [it for it in subsample(rmb.TEST.load(data), 12, seed) if it.meta["subset"].endswith("pairwise")],
    ]
    picked = []
    for pool, want in zip(pools, (n // 2, n - n // 2), strict=True):
        random.Random(seed).shuffle(pool)
        lengths = grm.prompt_lengths(pool)
        picked += [it for it, t in zip(pool, lengths, strict=True) if lo <= t <= hi][:want]
    return picked


# -- measuring -----------------------------------------------------------------------------------


@contextmanager
def peak_rss(pid: int | None = None, every: float = 0.05):
    """The peak resident memory in MiB of process `pid` (this one by default) over the block,
    sampled every `every` s."""
    process, done = psutil.Process(pid), threading.Event()
    peak = [process.memory_info().rss]

    def watch() -> None:
        while not done.wait(every):
            try:
                peak[0] = max(peak[0], process.memory_info().rss)
            except psutil.NoSuchProcess:  # a child that has exited
                return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    box: dict[str, float] = {}
    try:
        yield box
    finally:
        done.set()
        thread.join()
        box["peak RSS MiB"] = peak[0] / 2**20


def summary(name: str, items: list[Item], judgments: list[Judgment], seconds: float, prefilled: int | None) -> dict:
    """A row: `prefilled` is None where spct does not see the prefill (another process, a server)."""
    samples = [s for j in judgments for s in j.samples]
    return {
        "configuration": name,
        "judgments": len(judgments),
        "samples": len(samples),
        "generated tokens": sum(s.n_tokens or 0 for s in samples),
        "prefilled tokens": prefilled,
        "seconds": round(seconds, 1),
        "judgments/s": len(judgments) / seconds,
        "generated tokens/s": sum(s.n_tokens or 0 for s in samples) / seconds,
        "parse": sum(s.scores is not None for s in samples) / len(samples),
        "accuracy": sum(judgment_correct(j, it) for j, it in zip(judgments, items, strict=True)) / len(items),
    }


def bandwidth() -> float:
    """Bytes/s of reading a 1 GiB fp32 tensor (the best of 5 sums), what a decode step at batch 1 does."""
    x = torch.ones(2**28)
    x.sum()
    best = min(_seconds(x.sum) for _ in range(5))
    return x.numel() * 4 / best


def gemm_flops() -> float:
    """fp32 FLOP/s of a 2048 x 2048 x 2048 matmul (the best of 5)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    return 2 * 2048**3 / min(_seconds(lambda: a @ b) for _ in range(5))


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@torch.inference_mode()
def decode_rates(backend: HFBackend, prompt: list[dict], batches: list[int], steps: int, growing: bool) -> list[dict]:
    """Prefill tokens/s of `prompt`, then decode tokens/s at each batch size from copies of its
    cache: transformers' `DynamicCache` (concatenating) or spct's (`growing_cache`)."""
    model = backend.model
    ids = backend.chat([prompt], return_tensors="pt")["input_ids"]
    rows = []
    for batch in batches:
        cache = growing_cache(model.config, steps + 1) if growing else DynamicCache(config=model.config)
        prefill = _seconds(lambda c=cache: model(input_ids=ids, cache=c, use_cache=True))
        cache.batch_repeat_interleave(batch)
        token = ids[:, -1:].repeat(batch, 1)
        model(input_ids=token, cache=cache, use_cache=True)  # warm-up step at this shape
        start = time.perf_counter()
        for _ in range(steps):
            token = model(input_ids=token, cache=cache, use_cache=True).logits[:, -1:].argmax(-1)
        rows.append(
            {
                "cache": "spct (grows in place)" if growing else "transformers DynamicCache",
                "batch": batch,
                "prompt tokens": ids.shape[1],
                "prefill tokens/s": ids.shape[1] / prefill,
                "decode tokens/s": batch * steps / (time.perf_counter() - start),
            }
        )
    return rows


def micro(model: str, prompt: list[dict], batches: list[int], steps: int) -> dict:
    """Ceilings and kernel speeds: see the module's docstring."""
    bw, flops = bandwidth(), gemm_flops()
    result: dict = {"bandwidth GB/s": bw / 1e9, "fp32 GEMM GFLOP/s": flops / 1e9, "decode": []}
    runs = [("float32", batches, steps, False), ("float32", batches, steps, True)]
    fast = bf16_is_fast()  # without AMX or AVX512-BF16, bf16 GEMMs take minutes at the larger batches
    runs.append(("bfloat16", batches if fast else batches[:2], steps if fast else max(2, steps // 8), True))
    for dtype, dtype_batches, dtype_steps, growing in runs:
        backend = HFBackend(model, dtype=dtype)
        params, config, size = backend.model.num_parameters(), backend.model.config, backend.model.dtype.itemsize
        head = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        kv_per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * head * size
        for r in decode_rates(backend, prompt, dtype_batches, dtype_steps, growing):
            console.print(
                f"  micro {dtype} {r['cache']} batch {r['batch']}: {r['decode tokens/s']:.1f} decode tokens/s"
            )
            result["decode"].append(
                {
                    "dtype": dtype,
                    **r,
                    # each step reads every weight once and every sequence's cached keys and values
                    "bandwidth ceiling": r["batch"]
                    * bw
                    / (params * size + r["batch"] * r["prompt tokens"] * kv_per_token),
                    "compute ceiling": flops / (2 * params),
                }
            )
        result["parameters"] = params
        del backend
    return result


# -- the k-sample configurations -------------------------------------------------------------------


def judged(grm: GRM, items: list[Item], k: int, item_batch: int, **strategy) -> tuple[list[Judgment], float]:
    start = time.perf_counter()
    judgments = list(grm.score_items(items, k=k, batch_size=item_batch, **strategy))
    return judgments, time.perf_counter() - start


@torch.inference_mode()
def num_return_sequences(backend: HFBackend, grm: GRM, items: list[Item], k: int) -> list[Judgment]:
    """What a user writes first: one prompt per item (responses in their given order), k samples
    of it from one `generate(num_return_sequences=k)` call, which prefills every copy."""
    judgments = []
    for it in items:
        order = list(range(len(it.responses)))
        inputs = backend.chat([grm.template_for(it).render(it, order)], return_tensors="pt")
        out = backend.model.generate(
            **inputs,
            do_sample=True,
            temperature=SCORING.sampled_temperature,
            top_p=SCORING.top_p,
            max_new_tokens=grm.max_new_tokens,
            num_return_sequences=k,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
        samples = []
        for row in out[:, inputs["input_ids"].shape[1] :].tolist():
            c = backend._completion(row)
            samples.append(
                make_sample(
                    c.text,
                    order,
                    score_range=grm.template_for(it).score_range,
                    finish_reason=c.finish_reason,
                    n_tokens=c.n_tokens,
                )
            )
        judgments.append(vote(it.id, len(it.responses), samples, "voting", k=k))
    return judgments


MMAP_1MIB = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}  # glibc maps (and unmaps) every block of 1 MiB or more
CLI_ROWS = ("cli", "cli-mmap", "cli-1", "cli-1-mmap")  # `spct score` in its own process: the peak RSS rows


def runtime_rss() -> float:
    """Peak RSS in MiB of a process that imports what `spct score` runs on and loads no model."""
    command = [sys.executable, "-c", "import torch, transformers, spct.cli, spct.grm, spct.backends.hf"]
    process = subprocess.Popen(command)
    with peak_rss(process.pid) as rss:
        process.wait()
    return rss["peak RSS MiB"]


def cli_row(
    model: str,
    items: list[Item],
    k: int,
    max_new_tokens: int,
    tmp: Path,
    env: dict | None = None,
    options: tuple[str, ...] = (),
) -> dict:
    """`spct score` at k as a user runs it, in its own process (`env` added to its environment,
    `options` to its command line): wall time and peak RSS, sampled (not `wait4`'s: on Linux a
    child's maximum RSS starts from this process's at the fork)."""
    source = tmp / "items.jsonl"
    source.write_text("".join(it.model_dump_json() + "\n" for it in items))
    spct = Path(sys.executable).parent / "spct"
    command = [str(spct), "score", str(source), "-o", str(tmp / "scored.jsonl"), "--samples", str(k)]
    command += ["--max-new-tokens", str(max_new_tokens), "--model", model, *options]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    with peak_rss(process.pid) as rss:
        status = process.wait()
    seconds = time.perf_counter() - start
    if status:
        raise RuntimeError(f"{' '.join(command)} exited with {status}")
    judgments = [Judgment.model_validate_json(line) for line in (tmp / "scored.jsonl").read_text().splitlines()]
    name = f"spct score ({' '.join(options) or 'CLI defaults'}, own process)"
    name += "".join(f", {key}={value}" for key, value in (env or {}).items())
    row = summary(name, items, judgments, seconds, None)
    row["peak RSS MiB"] = rss["peak RSS MiB"]
    return row


def rows(
    args: argparse.Namespace, items: list[Item], whole: int, done: dict, save: Callable[[str, dict], None]
) -> None:
    """Each configuration at k = args.k on the same items, whose prompts are `whole` tokens in all
    (see the module's docstring)."""
    k, m = args.k, args.max_new_tokens
    backend = HFBackend(args.model, batch_size=1)

    def grm(**kw) -> GRM:
        return GRM(backend=backend, max_new_tokens=m, **kw)

    warm = grm()
    warm.max_new_tokens = 4
    warm.score_batch(items[:1], 2)  # warm-up: kernels, allocator

    def spct(name: str, per_order: int, item_batch: int, **kw) -> Callable[[], dict]:
        def measure() -> dict:
            backend.batch_size = item_batch * k  # every sequence of `item_batch` items in one forward pass
            g = grm(per_order=per_order, **kw)
            judgments, seconds = judged(g, items, k, item_batch)
            return summary(name, items, judgments, seconds, whole * k // per_order)

        return measure

    def naive() -> dict:
        backend.batch_size = 1
        judgments, seconds = judged(grm(per_order=1), items, k, 1)
        return summary("naive: one item, k generate calls", items, judgments, seconds, whole * k)

    def nrs() -> dict:
        start = time.perf_counter()
        judgments = num_return_sequences(backend, grm(), items, k)
        return summary(
            f"generate(num_return_sequences={k}), one item at a time",
            items,
            judgments,
            time.perf_counter() - start,
            whole * k,
        )

    small, large = (min(b, len(items)) for b in args.item_batches)
    plan: dict[str, Callable[[], dict]] = {
        "naive": naive,
        "nrs": nrs,
        "batched-small": spct(f"spct batched: {small} items per call ({small * k} sequences)", 1, small),
        "batched-large": spct(f"spct batched: {large} items per call ({large * k} sequences)", 1, large),
    }
    for name, fn in plan.items():
        run_row(name, fn, done, save)
    for b in (small, large):
        for p in (2, 4):
            name = f"+ prefix sharing: {k // p} orders x {p} samples, {b} items per call ({b * k} sequences)"
            run_row(f"share{p}-{b}", spct(name, p, b), done, save)
    best_batch, per_order = max(
        ((b, p) for b in (small, large) for p in (2, 4)), key=lambda bp: done[f"share{bp[1]}-{bp[0]}"]["judgments/s"]
    )  # the rows below are the fastest sharing configuration, with one thing changed

    def kept() -> dict:
        never = lambda self, ids, scores, **kw: torch.zeros(ids.shape[0], dtype=torch.bool)  # noqa: E731
        with mock.patch.object(AnyFinished, "__call__", never):
            name = f"+ prefix sharing: {k // per_order} orders x {per_order} samples, every row kept to the longest"
            return spct(name, per_order, best_batch)()

    def copied() -> dict:
        unshared = lambda config, reserve, share: growing_cache(config, reserve)  # noqa: E731
        with mock.patch("spct.backends.hf.growing_cache", unshared):
            name = (
                f"+ prefix sharing: {k // per_order} orders x {per_order} samples, the prompt's cache copied per sample"
            )
            return spct(name, per_order, best_batch)()

    run_row("copied", copied, done, save)
    run_row("kept", kept, done, save)
    run_row(
        "query",
        spct(f"+ principles from the query ({per_order} per order)", per_order, best_batch, principle_mode="query"),
        done,
        save,
    )
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.sqlite"
        run_row(
            "cache-first",
            spct(f"cache, first run ({per_order} per order)", per_order, best_batch, cache=cache),
            done,
            save,
        )
        run_row(
            "cache-rerun", spct(f"cache, rerun ({per_order} per order)", per_order, best_batch, cache=cache), done, save
        )
        run_row("cli", lambda: cli_row(args.model, items, k, m, Path(tmp)), done, save)
        run_row("cli-mmap", lambda: cli_row(args.model, items, k, m, Path(tmp), MMAP_1MIB), done, save)
        one = ("--batch-size", "1")  # one item per call: the least `spct score` holds at this k
        run_row("cli-1", lambda: cli_row(args.model, items, k, m, Path(tmp), options=one), done, save)
        run_row("cli-1-mmap", lambda: cli_row(args.model, items, k, m, Path(tmp), MMAP_1MIB, one), done, save)
    if "_runtime" not in done:
        save("_runtime", {"peak RSS MiB": runtime_rss()})
    done["_best"] = {"item_batch": best_batch, "per_order": per_order}
    save("_best", done["_best"])


def dtypes(
    args: argparse.Namespace, items: list[Item], whole: int, done: dict, save: Callable[[str, dict], None]
) -> None:
    """`spct score`'s configuration (core/defaults.py: items per call, draws per order, sequences per
    forward pass) with fp32 and with bf16 weights, each on its own backend, warmed up alike: bf16
    runs on AMX tiles where the CPU has them, and every new prompt shape costs it a one-time kernel
    build, paid here as a user would."""
    item_batch, per_order = SCORING.batch_size, SCORING.per_order
    for dtype in ("float32", "bfloat16"):

        def measure(dtype: str = dtype) -> dict:
            backend = HFBackend(args.model, dtype=dtype)
            GRM(backend=backend, max_new_tokens=4).score_batch(items[:1], 2)  # warm-up: kernels, allocator
            g = GRM(backend=backend, max_new_tokens=args.max_new_tokens, per_order=per_order)
            judgments, seconds = judged(g, items, args.k, item_batch)
            name = f"{dtype} weights, scoring defaults ({item_batch} items per call, {per_order} per order)"
            return summary(name, items, judgments, seconds, whole * args.k // per_order)

        run_row(f"dtype-{dtype}", measure, done, save)


def run_row(name: str, fn: Callable[[], dict], done: dict, save: Callable[[str, dict], None]) -> None:
    if name in done:
        return
    with peak_rss() as rss:
        row = fn()
    row.setdefault("peak RSS MiB", rss["peak RSS MiB"])
    console.print(f"  {row['configuration']}: {row['seconds']} s, {row['judgments/s']:.3f} judgments/s")
    save(name, row)


# -- llama.cpp -------------------------------------------------------------------------------------


def llama_python(venv: Path) -> Path:
    """The llama-cpp-python server's interpreter, building it into `venv` first when missing."""
    python = venv / "bin" / "python"
    if not python.exists() or subprocess.run([python, "-c", "import llama_cpp.server"]).returncode:
        console.print(f"building {LLAMA_CPP} into {venv} (about 13 min on 2 cores)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", LLAMA_CPP], check=True)
    return python


def llama_server(python: Path, gguf: Path, threads: int, log: Path):
    """llama-cpp-python's OpenAI-compatible server on `gguf` (spct's `local_server`)."""
    port = free_port()
    command = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]
    return local_server(command, port, "llama_cpp.server", health="/v1/models", timeout=120, log=log)


def served(args: argparse.Namespace, items: list[Item], done: dict, save: Callable[[str, dict], None]) -> None:
    """Raw concurrent requests to llama.cpp's server against spct's openai backend, same prompts."""
    if "served-spct" in done:
        return
    import openai

    python = llama_python(args.llama_venv)
    args.work.mkdir(parents=True, exist_ok=True)
    gguf = args.work / "default-f16.gguf"
    if not gguf.exists():
        export(args.model, gguf, "f16")
    k, c = args.k, args.concurrency
    with llama_server(python, gguf, os.cpu_count() or 2, args.work / "llama-server.log") as url:
        grm = GRM(
            str(gguf),
            backend="openai",
            base_url=url,
            max_concurrency=c,
            max_new_tokens=args.max_new_tokens,
            per_order=1,
        )  # one order per request, the raw requests' prompts
        prompts = [
            grm.template_for(it).render(it, order)
            for it in items
            for order in sample_orders(len(it.responses), k, 0, it.id)
        ]

        async def raw(limit: int) -> int:
            async with openai.AsyncOpenAI(base_url=url, api_key="EMPTY", timeout=600) as client:
                slots = asyncio.Semaphore(c)

                async def one(i: int, messages: list[dict]) -> int:
                    async with slots:
                        r = await client.chat.completions.create(
                            model=str(gguf),
                            messages=messages,
                            temperature=SCORING.sampled_temperature,
                            max_tokens=limit,
                            seed=i,
                        )
                        return r.usage.completion_tokens if r.usage else 0

                return sum(await asyncio.gather(*(one(i, m) for i, m in enumerate(prompts))))

        asyncio.run(raw(2))  # warm-up: the server loads and maps the model
        if "served-raw" not in done:
            start = time.perf_counter()
            tokens = asyncio.run(raw(args.max_new_tokens))
            seconds = time.perf_counter() - start
            row = {
                "configuration": f"llama.cpp server: raw concurrent requests ({c} in flight)",
                "judgments": len(items),
                "samples": len(prompts),
                "generated tokens": tokens,
                "seconds": round(seconds, 1),
                "judgments/s": len(items) / seconds,
                "generated tokens/s": tokens / seconds,
            }
            console.print(f"  {row['configuration']}: {seconds:.1f} s")
            save("served-raw", row)
        start = time.perf_counter()
        judgments = list(grm.score_items(items, k=k, batch_size=len(items)))
        row = summary(
            f"spct openai backend -> llama.cpp server (max_concurrency {c})",
            items,
            judgments,
            time.perf_counter() - start,
            None,
        )
        console.print(f"  {row['configuration']}: {row['seconds']} s")
        save("served-spct", row)


# -- adaptive voting against voting@32 ----------------------------------------------------------------


CONFIDENCES = (0.8, 0.9, 0.95)  # adaptive voting's replays (the default: SCORING.confidence)


def adaptive(args: argparse.Namespace, items: list[Item], done: dict, save: Callable[[str, dict], None]) -> None:
    """One pass at k = 32, read as voting@32 and replayed as adaptive@32 (rounds of
    `SCORING.round_size`) at each of `CONFIDENCES`. The pass draws as adaptive voting's rounds do:
    the best row's items per call (`spct score`'s when the rows did not run) and per order what a
    round draws (`GRM.per_order_of`), so that its first draws are the rounds' draws."""
    if "adaptive" in done:
        return
    best = done.get("_best", {"item_batch": SCORING.batch_size, "per_order": SCORING.per_order})
    backend = HFBackend(args.model, batch_size=best["item_batch"] * args.k)  # the sequences per forward of the best row
    per_order = GRM(backend=backend, per_order=best["per_order"]).per_order_of(SCORING.round_size)
    grm = GRM(backend=backend, max_new_tokens=args.max_new_tokens, per_order=per_order)
    judgments, seconds = judged(grm, items, 32, best["item_batch"])
    pairs = list(zip(judgments, items, strict=True))
    row = {
        "items": len(items),
        "per order": per_order,
        "seconds at k = 32": round(seconds, 1),
        "voting@32": sum(judgment_correct(j, it) for j, it in pairs) / len(items),
    }
    for confidence in CONFIDENCES:
        replays = [adaptive_at(j, it, 32, grm.template_for(it).score_range, confidence=confidence) for j, it in pairs]
        suffix = f" (confidence {confidence})"
        row[f"adaptive@32{suffix}"] = sum(ok for ok, _ in replays) / len(items)
        row[f"adaptive samples per item{suffix}"] = sum(used for _, used in replays) / len(items)
        same = [
            vote(it.id, len(it.responses), j.samples[:used], "adaptive", k=32).best == j.best
            for (j, it), (_, used) in zip(pairs, replays, strict=True)
        ]
        row[f"same verdict as voting@32{suffix}"] = sum(same) / len(items)
    save("adaptive", row | {"judgments": [j.model_dump(mode="json") for j in judgments]})


# -- the report --------------------------------------------------------------------------------------


def report(args: argparse.Namespace, done: dict) -> None:
    """The tables, the plot, and each of the issue's targets as a ratio measured in this run."""
    md = [
        f"Generated by `python benchmarks/throughput.py {' '.join(sys.argv[1:])}` on {done['_device']}; "
        f"every number below comes from this one run (rows resumed from `{args.out.with_suffix('.json')}`).",
        f"Items: {done['_items']}.\n",
    ]
    targets = []

    def section(title: str, table_rows: list[dict], percent: tuple[str, ...] = ()) -> None:
        t, text = table(title, table_rows, percent)
        console.print(t)
        md.extend([f"## {title}\n", text + "\n"])

    if "micro" in done:
        m = done["micro"]
        md.append(
            f"Memory bandwidth {m['bandwidth GB/s']:.1f} GB/s (a 1 GiB read), fp32 GEMM {m['fp32 GEMM GFLOP/s']:.0f} "
            f"GFLOP/s; {m['parameters'] / 1e6:.1f}M parameters. A decode step reads every weight and every "
            "sequence's cached keys and values once (the bandwidth ceiling) and does 2 FLOP per parameter "
            "per sequence (the compute ceiling).\n"
        )
        section("Prefill and decode on the longest prompt, by batch", m["decode"])
        top = max(
            (r for r in m["decode"] if r["dtype"] == "float32" and r["cache"].startswith("spct")),
            key=lambda r: r["batch"],
        )
        ceiling = min(top["bandwidth ceiling"], top["compute ceiling"])
        targets.append(
            f"decode within 3x of the bandwidth ceiling at batch {top['batch']}: {top['decode tokens/s']:.0f} tokens/s "
            f"against {top['bandwidth ceiling']:.0f} ({top['bandwidth ceiling'] / top['decode tokens/s']:.1f}x below; "
            f"{'met' if top['bandwidth ceiling'] <= 3 * top['decode tokens/s'] else 'not met'}); against the lower of "
            f"the bandwidth and compute ceilings, {ceiling:.0f}: {ceiling / top['decode tokens/s']:.1f}x below"
        )
    names = [n for n in done if not n.startswith(("_", "served", "dtype")) and n not in ("micro", "adaptive")]
    if names:
        base = done[names[0]]["judgments/s"]
        table_rows = [{**done[n], "vs naive": done[n]["judgments/s"] / base} for n in names]
        if "nrs" in done:
            for r in table_rows:
                r["vs num_return_sequences"] = r["judgments/s"] / done["nrs"]["judgments/s"]
            uncached = [n for n in names if n.startswith(("batched", "share"))]  # spct's configurations, one mode
            best = max(uncached, key=lambda n: done[n]["judgments/s"])
            ratio = done[best]["judgments/s"] / done["nrs"]["judgments/s"]
            targets.append(
                f"best spct configuration ({done[best]['configuration']}) at least 2x num_return_sequences: "
                f"{ratio:.2f}x ({'met' if ratio >= 2 else 'not met'})"
            )
        if "_best" in done:
            best = done["_best"]
            fastest = done[f"share{best['per_order']}-{best['item_batch']}"]
            batches = sorted({int(n.split("-")[1]) for n in done if n.startswith("share2-")})  # capped at the items
            for b, plain in zip(batches, ("batched-small", "batched-large"), strict=True):
                gains = {p: done[f"share{p}-{b}"]["judgments/s"] / done[plain]["judgments/s"] for p in (2, 4)}
                targets.append(
                    f"prefix sharing a gain on prompts of {args.min_tokens}-{args.max_tokens} tokens, {b} items per "
                    f"call: {gains[2]:.2f}x (2 per order), {gains[4]:.2f}x (4 per order) against the same batch "
                    f"without ({'met' if max(gains.values()) > 1 else 'not met'})"
                )
            for row, what in (("kept", "finished rows leaving the batch"), ("copied", "the prompt's cache read once")):
                if row in done:
                    targets.append(
                        f"{what} (not a target of the issue): {fastest['judgments/s'] / done[row]['judgments/s']:.2f}x "
                        f"the judgments/s of the same configuration without ({done[row]['configuration']})"
                    )
        weights, dtype = done["_weights"]["MiB"], done["_weights"]["dtype"]
        for row in CLI_ROWS:
            if row not in done:
                continue
            beyond = done[row]["peak RSS MiB"] - weights
            line = (
                f"`spct score` at k = {args.k} at most 2x the weights ({weights:.0f} MiB, {dtype}) beyond them "
                f"({done[row]['configuration']}): {beyond:.0f} MiB beyond, {beyond / weights:.2f}x "
                f"({'met' if beyond <= 2 * weights else 'not met'})"
            )
            if "_runtime" in done:  # the same, less what importing the libraries alone holds
                judging = beyond - done["_runtime"]["peak RSS MiB"]
                line += (
                    f"; less the {done['_runtime']['peak RSS MiB']:.0f} MiB of the imports alone: {judging:.0f} MiB, "
                    f"{judging / weights:.2f}x"
                )
            targets.append(line)
        section(f"Judging at k = {args.k}", table_rows, percent=("parse", "accuracy"))
    if "dtype-float32" in done and "dtype-bfloat16" in done:
        fp32, bf16 = done["dtype-float32"], done["dtype-bfloat16"]
        section(
            f"fp32 against bf16 weights at k = {args.k}",
            [{**r, "vs float32": r["judgments/s"] / fp32["judgments/s"]} for r in (fp32, bf16)],
            percent=("parse", "accuracy"),
        )
    if "served-raw" in done and "served-spct" in done:
        raw, ours = done["served-raw"], done["served-spct"]
        served_rows = [{**r, "samples/s": r["samples"] / r["seconds"]} for r in (raw, ours)]
        for r in served_rows:
            r["vs raw"] = r["samples/s"] / served_rows[0]["samples/s"]
        section(
            "llama.cpp server (llama-cpp-python, f16 GGUF of the default)", served_rows, percent=("parse", "accuracy")
        )
        ratio = served_rows[1]["vs raw"]
        targets.append(
            f"the openai backend at least 90% of raw concurrent throughput to the same server: {100 * ratio:.0f}% "
            f"({'met' if ratio >= 0.9 else 'not met'})"
        )
    bars = [done[n] for n in done if not n.startswith("_") and n not in ("micro", "adaptive", "cache-rerun")]
    if bars:
        title = f"k = {args.k} judging, {done['_device']} (the cached rerun not shown)"
        with figure(args.out.with_suffix(".png"), title, "judgments/s", "", (11, 5)) as ax:
            ax.barh([r["configuration"] for r in bars][::-1], [r["judgments/s"] for r in bars][::-1])
    memory = [done[n] for n in CLI_ROWS if n in done]
    if memory and "_runtime" in done:  # each `spct score` row's peak: the imports, the weights, the rest
        weights, imports = done["_weights"]["MiB"], done["_runtime"]["peak RSS MiB"]
        names = [r["configuration"].removeprefix("spct score ") for r in memory][::-1]
        rest = [r["peak RSS MiB"] - imports - weights for r in memory][::-1]
        title = f"`spct score` at k = {args.k}, peak RSS, {done['_device']}"
        with figure(args.out.with_name(args.out.name + "-memory.png"), title, "MiB", "", (11, 3.5)) as ax:
            ax.barh(names, [imports] * len(names), label="the imports (torch, transformers, spct)")
            ax.barh(names, [weights] * len(names), left=[imports] * len(names), label="the weights")
            ax.barh(names, rest, left=[imports + weights] * len(names), label="judging")
            ax.axvline(3 * weights, color="black", linestyle="--", label="the target: 2x the weights beyond them")
            ax.set_xlim(0, 1.6 * max(r["peak RSS MiB"] for r in memory))  # room for the legend on the right
    if "adaptive" in done:
        a = {key: v for key, v in done["adaptive"].items() if key != "judgments"}
        accuracies = tuple(key for key in a if key.startswith(("voting@", "adaptive@", "same verdict")))
        section("Adaptive voting against voting@32 (one pass at k = 32, replayed)", [a], accuracies)
        for confidence in CONFIDENCES:
            suffix = f" (confidence {confidence})"
            if f"adaptive@32{suffix}" not in a:  # a run from before the replays at several confidences
                continue
            gap = 100 * (a["voting@32"] - a[f"adaptive@32{suffix}"])
            share = a[f"adaptive samples per item{suffix}"] / 32
            targets.append(
                f"adaptive{suffix} within 0.5 points of voting@32 with at most 40% of its samples: "
                f"{abs(gap):.1f} points {'below' if gap > 0 else 'above'}, {100 * share:.0f}% of the samples "
                f"({'met' if gap <= 0.5 and share <= 0.4 else 'not met'}; {a['items']} items)"
            )
    md.extend(["## Targets (ratios from this run)\n", *[f"- {t}" for t in targets], ""])
    console.print(*targets, sep="\n")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--min-tokens", type=int, default=500)
    parser.add_argument("--max-tokens", type=int, default=2000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=320)
    parser.add_argument(
        "--item-batches", type=int, nargs=2, default=[4, 8], help="items per call of the two batched rows"
    )
    parser.add_argument("--decode-batches", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    parser.add_argument("--decode-steps", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--llama-venv", type=Path, default=Path("runs/llama-venv"))
    parser.add_argument(
        "--work", type=Path, default=Path("runs/throughput"), help="the exported GGUF, the server's log"
    )
    parser.add_argument("--parts", nargs="+", default=["micro", "rows", "served", "adaptive"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore the rows of an earlier run")
    parser.add_argument("--out", type=Path, default=Path("docs/performance"))
    args = parser.parse_args()

    state = args.out.with_suffix(".json")
    done: dict = json.loads(state.read_text()) if state.exists() and not args.fresh else {}

    def save(name: str, row: dict) -> None:
        done[name] = row
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps(done, indent=1))

    probe = GRM(backend=HFBackend(args.model))
    items = pick_items(args.data, args.items, args.min_tokens, args.max_tokens, probe.backend, args.seed)
    lengths = probe.prompt_lengths(items)
    longest = items[lengths.index(max(lengths))]
    prompt = probe.template_for(longest).render(longest, list(range(len(longest.responses))))
    model = probe.backend.model
    save("_weights", {"dtype": str(model.dtype), "MiB": model.num_parameters() * model.dtype.itemsize / 2**20})
    del probe, model
    save("_device", device_name())
    save(
        "_items",
        f"{len(items)} ({', '.join(it.id for it in items)}), prompts {min(lengths)}-{max(lengths)} tokens, "
        f"mean {sum(lengths) / len(lengths):.0f}; k = {args.k}, at most {args.max_new_tokens} new tokens",
    )
    if "micro" in args.parts and "micro" not in done:
        save("micro", micro(args.model, prompt, args.decode_batches, args.decode_steps))
    if "rows" in args.parts:
        rows(args, items, sum(lengths), done, save)
    if "dtype" in args.parts:
        dtypes(args, items, sum(lengths), done, save)
    if "served" in args.parts:
        served(args, items, done, save)
    if "adaptive" in args.parts:
        adaptive(args, items, done, save)
    report(args, done)


if __name__ == "__main__":
    main()
