"""Measure a GRM on the miniature world's held-out test split: parse rate, greedy accuracy, and
voting@k at temperature 0.5 read from ONE sampling pass at the largest k (docs/method.md §7).

    spct miniature eval --items 400 --k 8      # writes docs/miniature.md and docs/miniature.png

Judgments are appended to `runs/miniature-eval/` as they finish, and a rerun resumes there.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from spct.backends.base import load_backend
from spct.backends.hf import device_name
from spct.core.items import Item
from spct.core.vote import judgment_correct
from spct.grm import MINIATURE_MODEL
from spct.jobs import judge_to
from spct.miniature.world import generate
from spct.scaling.curves import SUBSETS, meta_at, vote_at


def evaluate(
    model: str = MINIATURE_MODEL,
    items: int = 400,
    k: int = 8,
    seed: int = 0,
    batch_size: int = 8,
    run_dir: str = "runs/miniature-eval",
    meta_rm: str | None = None,
) -> tuple[list[dict], float]:
    """One row per (family, n), per family and overall: counts, parse rates and accuracies
    (with `meta_rm`, meta-RM voting@k too, keeping k // 2); and the wall time of the judging (0 for
    judgments read back from an earlier run). A scalar baseline (`spct train baseline`) gets its
    one accuracy as "greedy", over the items it can judge."""
    start = time.monotonic()
    test = generate(items, "test", seed)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if (Path(model) / "baseline.json").is_file():
        from spct.train.baseline import correct, rewards

        verdicts = {it.id: correct(it, r) for it, r in zip(test, rewards(model, test), strict=True)}
        judged = [it for it in test if verdicts[it.id] is not None]
        rows = _rows(judged, lambda group: {"greedy": sum(verdicts[it.id] for it in group) / len(group)})
        (run / "rows.json").write_text(json.dumps(rows, indent=1))
        return rows, time.monotonic() - start
    backend = load_backend("hf", model, batch_size=batch_size)
    greedy = judge_to(backend, test, 1, 0.0, run / "greedy.jsonl", batch_size)
    sampled = judge_to(backend, test, k, 0.5, run / f"sampled-k{k}.jsonl", batch_size)
    if meta_rm:
        from spct.scaling.meta_rm import MetaRM

        scored = MetaRM(meta_rm).annotate(test, [sampled[it.id].samples for it in test])
        for it, samples in zip(test, scored, strict=True):
            sampled[it.id].samples = samples
    seconds = time.monotonic() - start
    ks = [2**i for i in range(k.bit_length()) if 2**i <= k]
    rng = random.Random(seed)

    def metrics(group: list[Item]) -> dict[str, float]:
        row = {
            "parse greedy": sum(greedy[it.id].n_valid for it in group) / len(group),
            "parse sampled": sum(sampled[it.id].n_valid for it in group) / (len(group) * k),
            "greedy": sum(judgment_correct(greedy[it.id], it) for it in group) / len(group),
        }
        for kk in ks:
            row[f"vote@{kk}"] = sum(vote_at(sampled[it.id], it, kk, rng) for it in group) / len(group)
        for kk in ks[1:] if meta_rm else []:
            row[f"meta@{kk}"] = sum(meta_at(sampled[it.id], it, kk, rng) for it in group) / len(group)
        return row

    rows = _rows(test, metrics)
    (run / "rows.json").write_text(json.dumps(rows, indent=1))
    return rows, seconds


def _rows(test: list[Item], metrics: Callable[[list[Item]], dict[str, float]]) -> list[dict]:
    """`metrics(items)` for every (family, n), every family and all items, sorted."""
    groups: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for it in test:
        groups[(it.meta["family"], str(len(it.responses)))].append(it)
        groups[(it.meta["family"], "all")].append(it)
        groups[("all", "all")].append(it)
    return [{"family": f, "n": n, "items": len(g), **metrics(g)} for (f, n), g in sorted(groups.items())]


def markdown_table(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = (f"{100 * v:.1f}" if isinstance(v, float) else "-" if v is None else str(v) for v in r.values())
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str | Path) -> None:
    """Accuracy vs k per family, greedy as a dashed line of the same colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in (r for r in rows if r["n"] == "all"):
        ks = [int(c.split("@")[1]) for c in r if c.startswith("vote@")]
        (line,) = ax.plot(ks, [100 * r[f"vote@{kk}"] for kk in ks], marker="o", label=f"{r['family']} voting")
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
    if "vote@1" not in overall:  # a baseline of `spct train baseline`: one accuracy, no curve against k
        doc.write_text(
            f"# Baseline `{Path(model).name}` on the held-out test split\n\n"
            f"Generated by `spct miniature eval` ({seconds:.0f} s; {device_name()}). "
            f"Strict accuracy (docs/method.md §2) in *greedy*, over the {overall['items']} items it can judge."
            f"\n\n{markdown_table(rows)}\n"
        )
        return
    plot(rows, png)
    doc.write_text(
        f"""# The miniature GRM on the held-out test split

Generated by `spct miniature eval --items {overall["items"]} --k {k}` on model `{Path(model).name}`
({took}; {device_name()}).

- Items: the miniature world's test split (no query shared with train or validation).
- *parse*: share of generations whose score block parsed (greedy; sampled at T = 0.5).
- *greedy*: one judgment at temperature 0. *vote@k*: sum of k sampled judgments at T = 0.5, each
  with its own response order; all k come from one pass of {k} samples per item, smaller k
  averaged over {SUBSETS} random subsets of them (docs/method.md §7).
- Accuracy is strict (docs/method.md §2): the labelled best response must have the unique top vote; for
  one response (n = 1, the binary 0/1 variant), the mean vote must round to the rating.

Overall: parse {100 * overall["parse greedy"]:.1f}% greedy, {100 * overall["parse sampled"]:.1f}% sampled;
greedy {100 * overall["greedy"]:.1f}%, vote@1 {100 * overall["vote@1"]:.1f}%, vote@{k} {100 * overall[f"vote@{k}"]:.1f}%
(vote@{k} - greedy = {100 * (overall[f"vote@{k}"] - overall["greedy"]):+.1f} points).

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
        measured = json.loads((Path(run) / "rows.json").read_text())
        by_family = {r["family"]: r for r in measured if r["n"] == "all"}
        overall = by_family.pop("all")
        lists = [r for r in measured if r["family"] != "all" and r["n"] not in ("1", "all")]
        row = {
            "stage": name,
            "items": overall["items"],
            "parse greedy": overall.get("parse greedy"),
            "greedy": overall["greedy"],
            f"vote@{k}": overall.get(f"vote@{k}"),
            f"meta@{k}": overall.get(f"meta@{k}"),
            "greedy n>=2": sum(r["greedy"] * r["items"] for r in lists) / sum(r["items"] for r in lists),
        }
        row.update({f"{family} greedy": r["greedy"] for family, r in sorted(by_family.items())})
        rows.append(row)
    unmeasured = [c for c in rows[0] if all(r[c] is None for r in rows)]
    rows = [{c: v for c, v in r.items() if c not in unmeasured} for r in rows]
    metrics = [m for m in ("greedy", f"vote@{k}", f"meta@{k}") if m in rows[0]]
    fig, ax = plt.subplots(figsize=(1.6 * len(rows) + 2, 4))
    width = 0.8 / len(metrics)
    for i, m in enumerate(metrics):
        ax.bar([x + i * width for x in range(len(rows))], [100 * (r[m] or 0) for r in rows], width, label=m)
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
highest before the vote; strict accuracy, docs/method.md §2). A scalar baseline gives one deterministic
reward per response: its accuracy is in *greedy*, and it has no vote. *greedy n>=2*: the items with
several responses only (the pairwise RM cannot rate a lone response, so its *greedy* covers those
alone):

{runs}

{markdown_table(rows)}

![stages](./{doc.with_suffix(".png").name})
"""
    )
    return rows
