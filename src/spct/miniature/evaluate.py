"""Measure a GRM on the miniature world's held-out test split: parse rate, greedy accuracy, and
voting@k at temperature 0.5 read from ONE sampling pass at the largest k (SPEC.md 7).

    spct miniature eval --items 400 --k 8      # writes docs/miniature.md and docs/miniature.png

Judgments are appended to `runs/miniature-eval/` as they finish, and a rerun resumes there.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from pathlib import Path

from spct.backends.base import Backend, load_backend
from spct.backends.hf import device_name
from spct.core.items import Item, Judgment
from spct.core.vote import judgment_correct
from spct.grm import DEFAULT_MODEL, GRM
from spct.io import JsonlWriter, done_ids
from spct.miniature.world import generate
from spct.scaling.curves import SUBSETS, meta_at, vote_at


def _judge(
    backend: Backend, items: list[Item], samples: int, temperature: float, path: Path, batch_size: int
) -> dict[str, Judgment]:
    """Judgments of `items`, read back from `path` where a previous run left them."""
    done = done_ids(path)
    todo = [it for it in items if it.id not in done]
    with JsonlWriter(path, append=True) as writer:
        grm = GRM(backend=backend, temperature=temperature, max_new_tokens=256)  # the model's own templates
        for j in grm.score_items(todo, samples=samples, batch_size=batch_size):
            writer.write(j)
    return {
        j.id: j for j in (Judgment.model_validate_json(line) for line in path.read_text().splitlines())
    }


def evaluate(
    model: str = DEFAULT_MODEL, items: int = 400, k: int = 8, seed: int = 0, batch_size: int = 8,
    run_dir: str = "runs/miniature-eval", meta_rm: str | None = None,
) -> tuple[list[dict], float]:
    """One row per (family, n), per family and overall: counts, parse rates and accuracies
    (with `meta_rm`, meta-RM voting@k too, keeping k // 2); and the wall time of the judging (0 for
    judgments read back from an earlier run)."""
    start = time.monotonic()
    test = generate(items, "test", seed)
    backend = load_backend("hf", model, batch_size=batch_size)
    run = Path(run_dir)
    greedy = _judge(backend, test, 1, 0.0, run / "greedy.jsonl", batch_size)
    sampled = _judge(backend, test, k, 0.5, run / f"sampled-k{k}.jsonl", batch_size)
    if meta_rm:
        from spct.scaling.meta_rm import MetaRM

        scored = MetaRM(meta_rm).annotate(test, [sampled[it.id].samples for it in test])
        for it, samples in zip(test, scored):
            sampled[it.id].samples = samples
    seconds = time.monotonic() - start
    ks = [2**i for i in range(k.bit_length()) if 2**i <= k]
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for it in test:
        groups[(it.meta["family"], str(len(it.responses)))].append(it)
        groups[(it.meta["family"], "all")].append(it)
        groups[("all", "all")].append(it)
    rows = []
    for (family, n), group in sorted(groups.items()):
        row = {"family": family, "n": n, "items": len(group)}
        row["parse greedy"] = sum(greedy[it.id].n_valid for it in group) / len(group)
        row["parse sampled"] = sum(sampled[it.id].n_valid for it in group) / (len(group) * k)
        row["greedy"] = sum(judgment_correct(greedy[it.id], it) for it in group) / len(group)
        for kk in ks:
            row[f"vote@{kk}"] = sum(vote_at(sampled[it.id], it, kk, rng) for it in group) / len(group)
        for kk in ks[1:] if meta_rm else []:
            row[f"meta@{kk}"] = sum(meta_at(sampled[it.id], it, kk, rng) for it in group) / len(group)
        rows.append(row)
    (run / "rows.json").write_text(json.dumps(rows, indent=1))
    return rows, seconds


def markdown_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{100 * v:.1f}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str | Path) -> None:
    """Accuracy vs k per family, greedy as a dashed line of the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in (r for r in rows if r["n"] == "all"):
        ks = [int(c.split("@")[1]) for c in r if c.startswith("vote@")]
        line, = ax.plot(ks, [100 * r[f"vote@{kk}"] for kk in ks], marker="o", label=f"{r['family']} voting")
        ax.axhline(100 * r["greedy"], color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (sampled judgments, T = 0.5)")
    ax.set_ylabel("strict accuracy (%)")
    ax.set_title("Miniature GRM on the test split (dashed: greedy)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_report(rows: list[dict], doc: Path, *, model: str, k: int, seconds: float) -> None:
    """docs/miniature.md from one run: how it was measured, the table, the plot."""
    overall = next(r for r in rows if r["family"] == "all")
    doc.parent.mkdir(parents=True, exist_ok=True)
    png = doc.with_suffix(".png")
    took = f"{seconds / 60:.1f} min of judging" if seconds > 60 else "judgments read back from an earlier run"
    plot(rows, png)
    doc.write_text(
        f"""# The miniature GRM on the held-out test split

Generated by `spct miniature eval --items {overall['items']} --k {k}` on model `{Path(model).name}`
({took}; {device_name()}).

- Items: the miniature world's test split (no query shared with train or validation).
- *parse*: share of generations whose score block parsed (greedy; sampled at T = 0.5).
- *greedy*: one judgment at temperature 0. *vote@k*: sum of k sampled judgments at T = 0.5, each
  with its own response order; all k come from one pass of {k} samples per item, smaller k
  averaged over {SUBSETS} random subsets of them (SPEC.md 7).
- Accuracy is strict (SPEC.md 2): the labelled best response must have the unique top vote; for
  one response (n = 1, the binary 0/1 variant), the mean vote must round to the rating.

Overall: parse {100 * overall['parse greedy']:.1f}% greedy, {100 * overall['parse sampled']:.1f}% sampled;
greedy {100 * overall['greedy']:.1f}%, vote@1 {100 * overall['vote@1']:.1f}%, vote@{k} {100 * overall[f'vote@{k}']:.1f}%
(vote@{k} - greedy = {100 * (overall[f'vote@{k}'] - overall['greedy']):+.1f} points).

{markdown_table(rows)}

![accuracy vs k](./{png.name})
"""
    )


def compare(stages: dict[str, Path], doc: Path, k: int = 8) -> list[dict]:
    """Side by side, the overall rows of several `evaluate` runs (one per training stage or
    baseline) as docs/results.md and a bar plot: greedy, vote@k and, where measured, meta@k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for name, run in stages.items():
        by_family = {r["family"]: r for r in json.loads((Path(run) / "rows.json").read_text()) if r["n"] == "all"}
        overall = by_family.pop("all")
        row = {"stage": name, "items": overall["items"], "parse greedy": overall["parse greedy"],
               "greedy": overall["greedy"], f"vote@{k}": overall[f"vote@{k}"]}
        if f"meta@{k}" in overall:
            row[f"meta@{k}"] = overall[f"meta@{k}"]
        row.update({f"{family} greedy": r["greedy"] for family, r in sorted(by_family.items())})
        rows.append(row)
    metrics = [m for m in ("greedy", f"vote@{k}", f"meta@{k}") if all(m in r for r in rows)]
    fig, ax = plt.subplots(figsize=(1.6 * len(rows) + 2, 4))
    width = 0.8 / len(metrics)
    for i, m in enumerate(metrics):
        ax.bar([x + i * width for x in range(len(rows))], [100 * r[m] for r in rows], width, label=m)
    ax.set_xticks([x + width * (len(metrics) - 1) / 2 for x in range(len(rows))], [r["stage"] for r in rows])
    ax.set_ylim(30, None)
    ax.set_ylabel("strict accuracy (%)")
    ax.set_title("Miniature test split")
    ax.legend(fontsize=8)
    fig.tight_layout()
    doc.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(doc.with_suffix(".png"), dpi=120)
    runs = "\n".join(f"- *{name}*: `{run}`" for name, run in stages.items())
    doc.write_text(
        f"""# Results on the miniature test split

Generated by `spct miniature compare` from these `spct miniature eval` runs (each: greedy and one
pass of {k} samples at T = 0.5 per item; meta@{k} keeps the {k // 2} samples the meta RM scores
highest before the vote; strict accuracy, SPEC.md 2):

{runs}

{markdown_table(rows)}

![stages](./{doc.with_suffix('.png').name})
"""
    )
    return rows
