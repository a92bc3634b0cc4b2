"""`spct eval`: a model on the benchmarks, the paper's metrics and layout.

    spct eval rewardbench rmb realmistake miniature --samples 1,2,4,8 --limit 50 --out runs/eval
    spct eval rmb ppe-preference --model /path/to/DeepSeek-GRM-27B --meta-rm /path/to/meta-rm --samples 1,8,32
    spct eval rmb --model runs/base/bt            # a scalar baseline (`spct train baseline`) in the same layout

Per benchmark: one greedy pass (T = 0) and one pass of k_max samples at T = 0.5, written as they
finish under `out/<benchmark>/` (a rerun resumes); voting@k and meta-RM voting@k read random
k-subsets of that pass (docs/method.md §7). Accuracy breaks a tie at the top at random, seeded (the paper's
evaluation); ROC-AUC for single-response benchmarks ranks each response's mean valid score. Each
number comes with its count and a bootstrap 95% interval. Writes `results.json`, `results.md`
(rows: model and strategy; columns: benchmarks and, when all four are measured, Overall),
`results.png` (score against k) and `results.jsonl` (every item with its judgments and outcomes,
the input of `spct report`).
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
from spct.eval.benchmarks import hh_rlhf, ppe, query_text, realmistake, rewardbench, rmb, training_split
from spct.eval.metrics import bootstrap, outcome, overall, roc_auc, section_scores
from spct.jobs import judge_to
from spct.miniature.world import generate
from spct.scaling.curves import SUBSETS, meta_at, vote_at


def _miniature(root: Path) -> list[Item]:
    return [it.model_copy(update={"meta": {**it.meta, "subset": it.meta["family"]}}) for it in generate(400, "test", 0)]


def _test_split(load: Callable[[Path], list[Item]]) -> Callable[[Path], list[Item]]:
    """A benchmark spct trains on, cut to its test split (`spct data build`): in-distribution."""
    return lambda root: [it for it in load(root) if training_split(query_text(it)) == "test"]


BENCHMARKS: dict[str, Callable[[Path], list[Item]]] = {
    "rewardbench": rewardbench.load,
    "ppe-preference": ppe.load_preference,
    "ppe-correctness": ppe.load_correctness,
    "rmb": rmb.load,
    "hh-rlhf": hh_rlhf.load,
    "realmistake": realmistake.load,
    "miniature": _miniature,
    "rmb-test": _test_split(rmb.load),
    "hh-rlhf-test": _test_split(hh_rlhf.load),
}
OVERALL = {
    "rewardbench": "RewardBench",
    "ppe-preference": "PPE Preference",
    "ppe-correctness": "PPE Correctness",
    "rmb": "RMB",
}
RATED = {"realmistake"}  # single responses: ROC-AUC of the score against the label
MEAN_OF_SUBSETS = {"rmb", "rmb-test", "ppe-correctness"}  # the benchmark's score is the mean of its parts


def subsample(items: list[Item], limit: int | None, seed: int) -> list[Item]:
    """`limit` items per subset, the same ones on every run (so that runs compare and resume)."""
    if limit is None:
        return items
    by_subset: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_subset[it.meta["subset"]].append(it)
    return [it for group in by_subset.values() for it in random.Random(seed).sample(group, min(limit, len(group)))]


def within(items: list[Item], engine: Backend, max_prompt_tokens: int) -> list[Item]:
    """The items whose prompt, in the model's template, fits `max_prompt_tokens` (the window a
    model was trained on): the others are left out, never cut."""
    from spct.grm import GRM

    lengths = GRM(backend=engine).prompt_lengths(items)  # the model's own templates, as judge_to prompts
    return [it for it, n in zip(items, lengths, strict=True) if n <= max_prompt_tokens]


def _mean_score(judgment: Judgment) -> float:
    return judgment.rewards[0] / judgment.n_valid if judgment.rewards else float("-inf")


def summarise(name: str, items: list[Item], values: dict[str, float | None], seed: int) -> dict:
    """The benchmark's headline number with its count and interval, from one value per item: an
    outcome (1, 0 or a fraction) for accuracy, a score for ROC-AUC. Items without a value (a
    baseline that cannot judge them) are left out, and counted."""
    scored = [it for it in items if values[it.id] is not None]
    result: dict = {"n": len(scored), "unjudged": len(items) - len(scored)}
    if name in RATED:
        return {
            **result,
            "metric": "ROC-AUC",
            "score": roc_auc([values[it.id] for it in scored], [it.rating for it in scored]),
        }
    subsets: dict[str, list[float]] = defaultdict(list)
    for it in scored:
        subsets[it.meta["subset"]].append(values[it.id])
    accuracy = {s: sum(v) / len(v) for s, v in subsets.items()}
    est = bootstrap([values[it.id] for it in scored], seed=seed)
    result.update(low=est.low, high=est.high, subsets=accuracy, metric="accuracy")
    if name == "rewardbench":  # the mean of its sections (offline: Chat Hard and Reasoning only)
        sections = section_scores(accuracy, {s: len(v) for s, v in subsets.items()})
        sections.pop("RewardBench", None)
        result.update(score=sum(sections.values()) / len(sections), sections=sections)
    elif name in MEAN_OF_SUBSETS:
        result["score"] = sum(accuracy.values()) / len(accuracy)
    else:
        result["score"] = est.value
    return result


def _mean_at(judgment: Judgment, k: int, rng: random.Random) -> float:
    """The mean valid score of a random k-subset of the samples (-inf when none parsed)."""
    samples = judgment.samples if k >= len(judgment.samples) else rng.sample(judgment.samples, k)
    valid = [s.scores[0] for s in samples if s.scores]
    return sum(valid) / len(valid) if valid else float("-inf")


def _auc_at(items: list[Item], judged: dict[str, Judgment], k: int, seed: int) -> dict:
    """ROC-AUC of voting@k: not a mean of per-item values, so the AUC of one k-subset per item,
    averaged over draws."""
    rng = random.Random(seed)
    draws = 1 if k >= max(len(judged[it.id].samples) for it in items) else SUBSETS
    labels = [it.rating for it in items]
    aucs = [roc_auc([_mean_at(judged[it.id], k, rng) for it in items], labels) for _ in range(draws)]
    return {"n": len(items), "unjudged": 0, "metric": "ROC-AUC", "score": sum(aucs) / len(aucs)}


def grm_rows(
    name: str,
    items: list[Item],
    greedy: dict[str, Judgment],
    sampled: dict[str, Judgment] | None,
    ks: list[int],
    meta: bool,
    seed: int,
) -> dict[str, dict]:
    """greedy, voting@k and (with meta scores on the samples) meta@k for one benchmark."""
    rng = random.Random(seed)

    def won(j: Judgment, it: Item) -> float:
        return outcome(j.rewards, it.best, "random", rng)

    if name in RATED:
        rows = {"greedy": summarise(name, items, {it.id: _mean_score(greedy[it.id]) for it in items}, seed)}
        rows.update({f"voting@{k}": _auc_at(items, sampled, k, seed) for k in ks} if sampled else {})
        return rows
    rows = {"greedy": summarise(name, items, {it.id: won(greedy[it.id], it) for it in items}, seed)}
    for k in ks if sampled else []:
        rows[f"voting@{k}"] = summarise(
            name, items, {it.id: vote_at(sampled[it.id], it, k, rng, rule=won) for it in items}, seed
        )
    for k in [k for k in ks if k > 1] if sampled and meta else []:
        rows[f"meta@{k}"] = summarise(
            name, items, {it.id: meta_at(sampled[it.id], it, k, rng, rule=won) for it in items}, seed
        )
    return rows


def _item_record(name: str, it: Item, outcomes: dict[str, float | None], **extra) -> dict:
    """One line of results.jsonl: the item, its outcome per strategy (strict correctness; None for
    a rated item) and what the model gave (judgments, or a baseline's rewards)."""
    return {"benchmark": name, **it.model_dump(mode="json"), "outcomes": outcomes, **extra}


def run(
    names: list[str],
    engine: Backend | None,
    ks: list[int],
    data: Path,
    out: Path,
    *,
    model: str,
    limit: int | None,
    seed: int = 0,
    batch_size: int = 8,
    max_new_tokens: int = 512,
    meta_rm: str | None = None,
    max_prompt_tokens: int | None = None,
) -> dict:
    """Judge and score every benchmark in `names` with `model` (a GRM behind `engine`, or, with no
    engine, a scalar baseline folder). `max_prompt_tokens` leaves longer items out (before
    `limit` draws), counted in results.json under "too long"."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "model": model,
        "samples": ks,
        "limit": limit,
        "meta_rm": meta_rm,
        "benchmarks": {},
        "max_prompt_tokens": max_prompt_tokens,
        "too long": {},
    }
    per_item: list[dict] = []
    for name in names:
        items = BENCHMARKS[name](data)
        if max_prompt_tokens is not None and engine is not None:
            kept = within(items, engine, max_prompt_tokens)
            results["too long"][name] = len(items) - len(kept)
            items = kept
        items = subsample(items, limit, seed)
        if engine is None:
            rows, records = _baseline(name, items, model, seed)
        else:
            rows, records = _grm(name, items, engine, ks, out / name, batch_size, max_new_tokens, meta_rm, seed)
        results["benchmarks"][name] = rows
        per_item += records
        results["overall"] = _overall(results["benchmarks"])
        (out / "results.json").write_text(json.dumps(results, indent=1))  # after each benchmark: nothing lost
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in per_item))
    write_table([results], out / "results.md")
    plot(results, out / "results.png")
    return results


def _grm(
    name: str,
    items: list[Item],
    engine: Backend,
    ks: list[int],
    folder: Path,
    batch_size: int,
    max_new_tokens: int,
    meta_rm: str | None,
    seed: int,
) -> tuple[dict, list[dict]]:
    greedy = judge_to(engine, items, 1, 0.0, folder / "greedy.jsonl", batch_size, max_new_tokens)
    sampled = None
    if max(ks) > 1:
        sampled = judge_to(
            engine, items, max(ks), 0.5, folder / f"sampled-k{max(ks)}.jsonl", batch_size, max_new_tokens
        )
        if meta_rm:
            from spct.scaling.meta_rm import MetaRM

            for it, samples in zip(
                items, MetaRM(meta_rm).annotate(items, [sampled[it.id].samples for it in items]), strict=True
            ):
                sampled[it.id].samples = samples
    rows = grm_rows(name, items, greedy, sampled, ks, meta_rm is not None, seed)
    rows["greedy"]["parsed"] = _parse_rate(items, greedy)
    if sampled:
        parsed = _parse_rate(items, sampled)  # one pass serves every k
        for strategy in rows.keys() - {"greedy"}:
            rows[strategy]["parsed"] = parsed
    strict = {"greedy": greedy} | ({f"voting@{max(ks)}": sampled} if sampled else {})
    records = [
        _item_record(
            name,
            it,
            {s: None if name in RATED else float(judgment_correct(j[it.id], it)) for s, j in strict.items()},
            judgments={s: j[it.id].model_dump(mode="json") for s, j in strict.items()},
        )
        for it in items
    ]
    return rows, records


def _parse_rate(items: list[Item], judged: dict[str, Judgment]) -> float:
    """The share of samples that parsed (a failed one is skipped by the vote, so counts as wrong
    where all of an item's failed): the first thing to read when a score is low."""
    return sum(judged[it.id].n_valid for it in items) / sum(len(judged[it.id].samples) for it in items)


def _baseline(name: str, items: list[Item], model: str, seed: int) -> tuple[dict, list[dict]]:
    """A scalar baseline's one row: its rewards, ties broken at random like the GRM's."""
    from spct.train.baseline import rewards

    rng = random.Random(seed)
    given = dict(zip([it.id for it in items], rewards(model, items), strict=True))
    values: dict[str, float | None] = {}
    for it in items:
        r = given[it.id]
        values[it.id] = None if r is None else r[0] if name in RATED else outcome(r, it.best, "random", rng)
    records = [
        _item_record(name, it, {"scalar": values[it.id] if name not in RATED else None}, rewards=given[it.id])
        for it in items
    ]
    return {"scalar": summarise(name, items, values, seed)}, records


def _overall(benchmarks: dict[str, dict]) -> dict[str, float]:
    """The paper's Overall per strategy, where all four of its benchmarks were measured."""
    strategies = next(iter(benchmarks.values())).keys()
    out = {}
    for s in strategies:
        value = overall({OVERALL[n]: rows[s]["score"] for n, rows in benchmarks.items() if n in OVERALL and s in rows})
        if value is not None:
            out[s] = value
    return out


def write_table(runs: list[dict], path: Path) -> None:
    """The paper's layout: a row per model and strategy, a column per benchmark (score, interval,
    n) and Overall where a run measured all four of its benchmarks."""
    names = list(dict.fromkeys(n for r in runs for n in r["benchmarks"]))
    with_overall = any(r.get("overall") for r in runs)
    head = names + (["Overall"] if with_overall else [])
    lines = ["| model | strategy | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(head)]
    for results in runs:
        strategies = list(dict.fromkeys(s for rows in results["benchmarks"].values() for s in rows))
        for s in strategies:
            cells = []
            for n in names:
                r = results["benchmarks"].get(n, {}).get(s)
                ci = f" [{100 * r['low']:.1f}, {100 * r['high']:.1f}]" if r and "low" in r else ""
                cells.append("-" if r is None else f"{100 * r['score']:.1f}{ci} (n={r['n']})")
            if with_overall:
                value = results.get("overall", {}).get(s)
                cells.append("-" if value is None else f"{100 * value:.1f}")
            lines.append(f"| {Path(results['model']).name} | {s} | " + " | ".join(cells) + " |")
    notes = []
    for results in runs:
        parsed = {
            n: rows["greedy"]["parsed"]
            for n, rows in results["benchmarks"].items()
            if "parsed" in rows.get("greedy", {})
        }
        if parsed:
            notes.append(
                f"- {Path(results['model']).name}, samples that parsed (greedy): "
                + ", ".join(f"{n} {100 * v:.0f}%" for n, v in parsed.items())
            )
        rb = results["benchmarks"].get("rewardbench")
        sections = next(iter(rb.values())).get("sections", {}) if rb else {}
        if rb and len(sections) < 4:
            notes.append(f"- {Path(results['model']).name}: RewardBench from its sections {', '.join(sections)} only")
    path.write_text("\n".join(lines + (["", *notes] if notes else [])) + "\n")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in results["benchmarks"].items():
        for prefix, style in (("voting@", "-"), ("meta@", ":")):
            ks = [int(s.split("@")[1]) for s in rows if s.startswith(prefix)]
            if ks:
                (line,) = ax.plot(
                    ks,
                    [100 * rows[f"{prefix}{k}"]["score"] for k in ks],
                    marker="o",
                    linestyle=style,
                    label=f"{name} {prefix.rstrip('@')}",
                )
                if "greedy" in rows and prefix == "voting@":
                    ax.axhline(100 * rows["greedy"]["score"], color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (sampled judgments, T = 0.5)")
    ax.set_ylabel("score (%; dashed: greedy)")
    ax.set_title(Path(results["model"]).name)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
