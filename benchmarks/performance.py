"""Throughput of spct's hf backend on models of real sizes against plain transformers `generate`.

    python benchmarks/performance.py                                   # on a GPU: docs/performance-gpu.md
    python benchmarks/performance.py --models tiny --items 2 --max-new-tokens 16 --out /tmp/perf  # a look
    python benchmarks/performance.py --models default Qwen2-0.5B --orders both  # the real default too; each row twice

Speed needs no trained weights: each model is its published config (Qwen2-0.5B, Llama-3.2-1B)
randomly initialised in bf16, with the miniature tokenizer and prompt templates, so the prompts
are the miniature test items' (a few hundred tokens). A random model rarely emits eos, so every
sample runs to `--max-new-tokens`: the rows compare equal work. `default` is the embedded GRM on
its real weights (SmolLM2-135M-Instruct with spct's adapter, merged) and its own tokenizer and
templates: its samples end at eos, so the rows' work differs and tokens/s is the figure to compare.
Per model, k samples per item at T = 0.5, four ways, all in one run:

1. plain `generate`, one item at a time, `num_return_sequences=k` (each copy prefilled);
2. plain `generate`, all items in one left-padded batch, `num_return_sequences=k`;
3. spct, k response orders per item (one sample each), batched across items;
4. spct, k / 4 orders with 4 samples each from one shared prefill (prefix sharing).

With `--orders both` every row runs again after the four, in reverse order, and the speed-ups
read the mean of its two times: a row that gains from running after another (a warm allocator, a
compiled kernel) shows it as a gap between its two times. Prints a table and writes `<out>.md`
and `<out>.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from report import table  # benchmarks/report.py
from rich.console import Console
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from spct.backends.hf import HFBackend, device_name
from spct.core.vote import sample_orders
from spct.grm import DEFAULT_MODEL, GRM, MINIATURE_MODEL
from spct.miniature.world import generate

# Published architecture fields; vocabulary and special tokens are the miniature tokenizer's.
CONFIGS = {
    "Qwen2-0.5B": dict(
        model_type="qwen2",
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "Llama-3.2-1B": dict(
        model_type="llama",
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        vocab_size=128256,
        tie_word_embeddings=True,
    ),
    "tiny": dict(
        model_type="llama",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
}


def random_model(name: str, folder: Path) -> Path:
    """A randomly initialised bf16 checkpoint of `name`'s shape that spct loads like any other."""
    tokenizer = AutoTokenizer.from_pretrained(MINIATURE_MODEL)
    fields = dict(CONFIGS[name])
    config = AutoConfig.for_model(
        fields.pop("model_type"),
        **fields,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        max_position_embeddings=4096,
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):  # random init of 1B weights: minutes on CPU
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "spct.json").write_text((Path(MINIATURE_MODEL) / "spct.json").read_text())  # same templates
    return folder


def timed(fn) -> tuple[float, int]:
    """Seconds and generated tokens of `fn()`, which returns its token count."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    tokens = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, tokens


def measure(model_path: str, n_items: int, k: int, max_new_tokens: int, both: bool) -> tuple[list[dict], int, str]:
    """The four rows on one checkpoint (each also in reverse order after them, with `both`), its
    parameter count and its weights' dtype."""
    items = generate(n_items, "test", 0)
    backend = HFBackend(model_path, batch_size=n_items * k)  # every batched row decodes n_items * k sequences
    model, tokenizer = backend.model, backend.tokenizer
    grm = GRM(backend=backend, max_new_tokens=max_new_tokens)
    prompts = [grm.template_for(it).render(it, sample_orders(len(it.responses), 1, grm.seed, it.id)[0]) for it in items]
    options = dict(
        do_sample=True,
        temperature=0.5,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        num_return_sequences=k,
    )

    @torch.inference_mode()
    def plain(batch: list) -> int:
        inputs = tokenizer.apply_chat_template(
            batch, add_generation_prompt=True, padding=True, return_dict=True, return_tensors="pt"
        ).to(model.device)
        out = model.generate(**inputs, **options)[:, inputs["input_ids"].shape[1] :]
        return int((out != tokenizer.pad_token_id).sum())

    def spct(per_order: int) -> int:
        grm.per_order = per_order
        return sum(s.n_tokens for samples in grm.draw(items, 0, k, 0.5) for s in samples)

    rows = {
        "plain generate, one item at a time": lambda: sum(plain([p]) for p in prompts),
        "plain generate, items batched": lambda: plain(prompts),
        f"spct: {k} orders per item, batched": lambda: spct(1),
        f"spct: {k // 4} orders x 4 samples, shared prefill": lambda: spct(4),
    }
    plain([prompts[0]])  # warm-up: kernels, allocator
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in rows}
    for name in [*rows, *(reversed(rows) if both else ())]:
        runs[name].append(timed(rows[name]))
        Console(stderr=True).print(f"  {name}: {runs[name][-1][0]:.1f} s")
    results = []
    for name, measured in runs.items():
        seconds, tokens = (sum(m[i] for m in measured) / len(measured) for i in (0, 1))
        row = {"configuration": name, "judgments": n_items, "samples": n_items * k, "tokens": round(tokens)}
        if both:  # each time where it ran: among the first rows, then among the last
            row |= {"seconds, in order": measured[0][0], "seconds, reversed": measured[1][0]}
        results.append(row | {"seconds": seconds, "tokens/s": tokens / seconds, "judgments/s": n_items / seconds})
    for r in results:
        r["speed-up"] = r["judgments/s"] / results[0]["judgments/s"]
    return results, model.num_parameters(), str(model.dtype).removeprefix("torch.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["Qwen2-0.5B", "Llama-3.2-1B"], choices=[*CONFIGS, "default"])
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--orders", choices=["forward", "both"], default="forward", help="both: each row again after")
    parser.add_argument("--out", type=Path, default=Path("docs/performance-gpu"), help="writes OUT.md and OUT.json")
    args = parser.parse_args()

    console = Console(width=200)
    report, data = [], {}
    for name in args.models:
        weights = "the embedded GRM's" if name == "default" else "random"
        console.print(f"{name}: {weights} weights, {args.items} items, k = {args.k}, {args.max_new_tokens} new tokens")
        with tempfile.TemporaryDirectory() as tmp:
            path = DEFAULT_MODEL if name == "default" else str(random_model(name, Path(tmp)))
            rows, params, dtype = measure(path, args.items, args.k, args.max_new_tokens, args.orders == "both")
        data[name] = {"parameters": params, "rows": rows}
        t, md = table(f"{name} ({params / 1e6:.0f}M parameters)", rows)
        console.print(t)
        report.append(f"## {name} ({params / 1e6:.0f}M parameters, {dtype}, {weights} weights)\n\n{md}\n")
        write(args, data, report)  # after each model: a cut-off run keeps what it measured


def write(args: argparse.Namespace, data: dict, report: list[str]) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"device": device_name(), **data}, indent=1))
    twice = ""
    if args.orders == "both":
        twice = "; each row ran twice, in order and then reversed after the four: its speed-up reads the mean"
    args.out.with_suffix(".md").write_text(
        f"""# Throughput on models of real sizes

Generated by `python benchmarks/performance.py {" ".join(sys.argv[1:])}` on {device_name()}; every
number below comes from this one run. The miniature test items; random weights (speed needs none)
with the miniature tokenizer and templates, or the embedded GRM's own (`default`). A random model's
samples run to {args.max_new_tokens} new tokens unless a random eos ends one early (the tokens
column counts them), so each row does nearly the same work: {args.items} judgments of {args.k}
samples; the default's end at eos. The first row is the baseline of the speed-ups{twice}.

"""
        + "\n".join(report)
    )


if __name__ == "__main__":
    main()
