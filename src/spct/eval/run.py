"""`spct eval`: a model on the benchmarks, the paper's metrics and layout.

    spct eval rewardbench rmb realmistake miniature --samples 1,2,4,8 --limit 50 --out runs/eval
    spct eval rmb --model /path/to/DeepSeek-GRM-16B --samples 1,8,32 --data ../shared/data

Per benchmark: one greedy pass (T = 0) and one pass of k_max samples at T = 0.5, written as they
finish under `out/<benchmark>/` (a rerun resumes); voting@k reads random k-subsets of that pass
(SPEC.md 7). Accuracy breaks a tie at the top at random, seeded (the paper's evaluation); ROC-AUC
for single-response benchmarks uses each response's mean valid score. Each number comes with its
count and a bootstrap 95% interval. Writes `results.json`, `results.md` (rows: model and strategy;
columns: benchmarks) and `results.png` (score against k per benchmark).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from spct.backends.base import Backend
from spct.core.items import Item, Judgment
from spct.core.vote import judgment_correct
from spct.eval.benchmarks import hh_rlhf, realmistake, rewardbench, rmb
from spct.eval.metrics import bootstrap, outcome, roc_auc, section_scores
from spct.miniature.evaluate import judge_to
from spct.miniature.world import generate
from spct.scaling.curves import vote_at


def _miniature(root: Path) -> list[Item]:
    return [it.model_copy(update={"meta": {**it.meta, "subset": it.meta["family"]}}) for it in generate(400, "test", 0)]


BENCHMARKS: dict[str, Callable[[Path], list[Item]]] = {
    "rewardbench": rewardbench.load, "rmb": rmb.load, "hh-rlhf": hh_rlhf.load,
    "realmistake": realmistake.load, "miniature": _miniature,
}


def subsample(items: list[Item], limit: int | None, seed: int) -> list[Item]:
    """`limit` items per subset, the same ones on every run (so that runs compare and resume)."""
    if limit is None:
        return items
    by_subset: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_subset[it.meta["subset"]].append(it)
    return [it for group in by_subset.values() for it in random.Random(seed).sample(group, min(limit, len(group)))]


def _mean_score(judgment: Judgment) -> float:
    return judgment.rewards[0] / judgment.n_valid if judgment.rewards else float("-inf")


def score(name: str, items: list[Item], judged: dict[str, Judgment], k: int | None, seed: int) -> dict:
    """The benchmark's headline number (with its interval) and per-subset values for greedy (k
    None) or voting@k."""
    rng = random.Random(seed)
    if name == "realmistake":
        scores = [_mean_score(judged[it.id]) for it in items]
        return {"score": roc_auc(scores, [it.rating for it in items]), "n": len(items), "metric": "ROC-AUC"}

    def won(j: Judgment, it: Item) -> float:
        return outcome(j.rewards, it.best, "random", rng) if it.best is not None else float(judgment_correct(j, it))

    per_item = {it.id: (won(judged[it.id], it) if k is None else vote_at(judged[it.id], it, k, rng, rule=won))
                for it in items}
    subsets: dict[str, list[float]] = defaultdict(list)
    for it in items:
        subsets[it.meta["subset"]].append(per_item[it.id])
    accuracy = {s: sum(v) / len(v) for s, v in subsets.items()}
    est = bootstrap(list(per_item.values()), seed=seed)
    result = {"n": est.n, "low": est.low, "high": est.high, "subsets": accuracy, "metric": "accuracy"}
    if name == "rewardbench":  # the mean of its sections (offline: Chat Hard and Reasoning only)
        sections = section_scores(accuracy, {s: len(v) for s, v in subsets.items()})
        sections.pop("RewardBench", None)
        result.update(score=sum(sections.values()) / len(sections), sections=sections)
    elif name == "rmb":  # the mean of its four parts
        result["score"] = sum(accuracy.values()) / len(accuracy)
    else:
        result["score"] = est.value
    return result


def run(
    names: list[str], engine: Backend, ks: list[int], data: Path, out: Path, *, limit: int | None, seed: int = 0,
    batch_size: int = 8, max_new_tokens: int = 512,
) -> dict:
    """Judge and score every benchmark in `names` with the model behind `engine`."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    results: dict = {"model": engine.model_id, "samples": ks, "limit": limit, "benchmarks": {}}
    for name in names:
        items = subsample(BENCHMARKS[name](data), limit, seed)
        folder = out / name
        greedy = judge_to(engine, items, 1, 0.0, folder / "greedy.jsonl", batch_size, max_new_tokens)
        rows = {"greedy": score(name, items, greedy, None, seed)}
        if max(ks) > 1:
            sampled = judge_to(engine, items, max(ks), 0.5, folder / f"sampled-k{max(ks)}.jsonl", batch_size,
                               max_new_tokens)
            rows.update({f"voting@{k}": score(name, items, sampled, k, seed) for k in ks})
        results["benchmarks"][name] = rows
        (out / "results.json").write_text(json.dumps(results, indent=1))  # after each benchmark: nothing lost
    write_table(results, out / "results.md")
    plot(results, out / "results.png")
    return results


def write_table(results: dict, path: Path) -> None:
    """The paper's layout: a row per model and strategy, a column per benchmark (score, n)."""
    names = list(results["benchmarks"])
    strategies = list(next(iter(results["benchmarks"].values())))
    lines = ["| model | strategy | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for s in strategies:
        cells = []
        for n in names:
            r = results["benchmarks"][n][s]
            ci = f" [{100 * r['low']:.1f}, {100 * r['high']:.1f}]" if "low" in r else ""
            cells.append(f"{100 * r['score']:.1f}{ci} (n={r['n']})")
        lines.append(f"| {Path(results['model']).name} | {s} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in results["benchmarks"].items():
        ks = [int(s.split("@")[1]) for s in rows if s.startswith("voting@")]
        if ks:
            line, = ax.plot(ks, [100 * rows[f"voting@{k}"]["score"] for k in ks], marker="o", label=name)
            ax.axhline(100 * rows["greedy"]["score"], color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (sampled judgments, T = 0.5)")
    ax.set_ylabel("score (%; dashed: greedy)")
    ax.set_title(Path(results["model"]).name)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
