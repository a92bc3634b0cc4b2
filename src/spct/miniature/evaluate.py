"""Measure a GRM on the miniature world's held-out test split: parse rate, greedy accuracy, and
voting@k at temperature 0.5 read from ONE sampling pass at the largest k (SPEC.md 7).

    spct miniature eval --items 400 --k 8      # writes docs/miniature.md and docs/miniature.png

Judgments are appended to `runs/miniature-eval/` as they finish, and a rerun resumes there.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

from spct.backends.base import Backend, load_backend
from spct.core.items import Item, Judgment
from spct.core.vote import judgment_correct, vote
from spct.grm import DEFAULT_MODEL, GRM
from spct.io import JsonlWriter, done_ids
from spct.miniature.build import template_for
from spct.miniature.world import generate

SUBSETS = 16  # random subsets averaged per k < k_max, to cut the variance of the curve


def _judge(
    backend: Backend, items: list[Item], samples: int, temperature: float, path: Path, batch_size: int
) -> dict[str, Judgment]:
    """Judgments of `items`, read back from `path` where a previous run left them."""
    done = done_ids(path)
    todo = [it for it in items if it.id not in done]
    with JsonlWriter(path, append=True) as writer:
        for name in ("binary", "pointwise"):
            group = [it for it in todo if template_for(it).name == name]
            grm = GRM(backend=backend, template=template_for(group[0]) if group else name,
                      temperature=temperature, max_new_tokens=256)
            for j in grm.score_items(group, samples=samples, batch_size=batch_size):
                writer.write(j)
    return {
        j.id: j for j in (Judgment.model_validate_json(line) for line in path.read_text().splitlines())
    }


def vote_at(judgment: Judgment, item: Item, k: int, rng: random.Random) -> float:
    """Accuracy of voting over k of the judgment's samples, averaged over random subsets."""
    samples = judgment.samples
    if k >= len(samples):
        return float(judgment_correct(judgment, item))
    hits = [judgment_correct(vote(item.id, len(item.responses), rng.sample(samples, k)), item) for _ in range(SUBSETS)]
    return sum(hits) / SUBSETS


def evaluate(
    model: str = DEFAULT_MODEL, items: int = 400, k: int = 8, seed: int = 0, batch_size: int = 8,
    run_dir: str = "runs/miniature-eval",
) -> list[dict]:
    """One row per (family, n) and one overall: counts, parse rates and accuracies."""
    test = generate(items, "test", seed)
    backend = load_backend("hf", model, batch_size=batch_size)
    run = Path(run_dir)
    greedy = _judge(backend, test, 1, 0.0, run / "greedy.jsonl", batch_size)
    sampled = _judge(backend, test, k, 0.5, run / f"sampled-k{k}.jsonl", batch_size)
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
        rows.append(row)
    (run / "rows.json").write_text(json.dumps(rows, indent=1))
    return rows


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
