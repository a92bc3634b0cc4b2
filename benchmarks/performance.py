"""Throughput of spct's hf backend on models of real sizes against plain transformers `generate`.

    python benchmarks/performance.py                                   # on a GPU: docs/performance-gpu.md
    python benchmarks/performance.py --models tiny --items 2 --max-new-tokens 16 --out /tmp/perf  # a look

Speed needs no trained weights: each model is its published config (Qwen2-0.5B, Llama-3.2-1B)
randomly initialised in bf16, with the miniature tokenizer and prompt templates, so the prompts
are the miniature test items' (a few hundred tokens). A random model rarely emits eos, so every
sample runs to `--max-new-tokens`: the rows compare equal work. Per model, k samples per item at
T = 0.5, four ways, all in one run:

1. plain `generate`, one item at a time, `num_return_sequences=k` (each copy prefilled);
2. plain `generate`, all items in one left-padded batch, `num_return_sequences=k`;
3. spct, k response orders per item (one sample each), batched across items;
4. spct, k / 4 orders with 4 samples each from one shared prefill (prefix sharing).

Prints a table and writes `<out>.md` and `<out>.json`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from report import table  # benchmarks/report.py
from rich.console import Console
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from spct.backends.hf import HFBackend, device_name
from spct.core.vote import sample_orders
from spct.grm import GRM, MINIATURE_MODEL
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


def measure(folder: Path, n_items: int, k: int, max_new_tokens: int) -> tuple[list[dict], int]:
    """The four rows on one checkpoint, and its parameter count."""
    items = generate(n_items, "test", 0)
    backend = HFBackend(str(folder), batch_size=n_items * k)  # every batched row decodes n_items * k sequences
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
    results = []
    for name, fn in rows.items():
        seconds, tokens = timed(fn)
        results.append(
            {
                "configuration": name,
                "judgments": n_items,
                "samples": n_items * k,
                "tokens": tokens,
                "seconds": seconds,
                "tokens/s": tokens / seconds,
                "judgments/s": n_items / seconds,
            }
        )
        Console(stderr=True).print(f"  {name}: {seconds:.1f} s")
    for r in results:
        r["speed-up"] = r["judgments/s"] / results[0]["judgments/s"]
    return results, model.num_parameters()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["Qwen2-0.5B", "Llama-3.2-1B"], choices=list(CONFIGS))
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("docs/performance-gpu"), help="writes OUT.md and OUT.json")
    args = parser.parse_args()

    console = Console(width=200)
    report, data = [], {}
    for name in args.models:
        console.print(f"{name}: random init, {args.items} items, k = {args.k}, {args.max_new_tokens} new tokens")
        with tempfile.TemporaryDirectory() as tmp:
            rows, params = measure(random_model(name, Path(tmp)), args.items, args.k, args.max_new_tokens)
        data[name] = {"parameters": params, "rows": rows}
        t, md = table(f"{name} ({params / 1e6:.0f}M parameters)", rows)
        console.print(t)
        report.append(f"## {name} ({params / 1e6:.0f}M parameters, bf16)\n\n{md}\n")
        write(args, data, report)  # after each model: a cut-off run keeps what it measured


def write(args: argparse.Namespace, data: dict, report: list[str]) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"device": device_name(), **data}, indent=1))
    args.out.with_suffix(".md").write_text(
        f"""# Throughput on models of real sizes

Generated by `python benchmarks/performance.py --items {args.items} --k {args.k} --max-new-tokens {args.max_new_tokens}`
on {device_name()}; every number below comes from this one run. Random weights (speed needs none),
the miniature tokenizer and templates; samples run to {args.max_new_tokens} new tokens unless a random eos
ends one early (the tokens column counts them), so each row does nearly the same work: {args.items}
judgments of {args.k} samples. The first row is the baseline of
the speed-ups.

"""
        + "\n".join(report)
    )


if __name__ == "__main__":
    main()
