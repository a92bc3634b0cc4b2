"""`spct eval`: a model on the benchmarks, the paper's metrics and layout.

    spct eval rewardbench rmb realmistake miniature --samples 1,2,4,8 --limit 50 --out runs/eval
    spct eval rmb ppe-preference --model /path/to/DeepSeek-GRM-27B --meta-rm /path/to/meta-rm --samples 1,8,32
    spct eval rmb --model runs/base/bt            # a scalar baseline (`spct train baseline`) in the same layout

Per benchmark: one greedy pass (T = 0) and one pass of k_max samples at T = 0.5, written as they
finish under `out/<benchmark>/` (a rerun resumes); voting@k and meta-RM voting@k read random
k-subsets of that pass, adaptive@k replays its first draws in rounds (docs/method.md §7).
Accuracy breaks a tie at the top at random, seeded (the paper's evaluation); ROC-AUC for
single-response benchmarks ranks each response's mean valid score. Each
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
from spct.core.defaults import SCORING
from spct.core.items import Item, Judgment
from spct.core.vote import is_correct, judgment_correct, vote
from spct.eval.benchmarks import (
    Benchmark,
    files,
    hh_rlhf,
    miniature,
    ppe,
    realmistake,
    rewardbench,
    rewardbench2,
    rmb,
)
from spct.eval.metrics import Estimate, Paired, auc_bootstrap, bootstrap, outcome, overall, paired_difference, roc_auc
from spct.eval.report import plot, write_table
from spct.grm import GRM, Templates
from spct.jobs import judge_to
from spct.scaling.curves import SUBSETS, adaptive_stop, meta_at, vote_at

T = SCORING.sampled_temperature  # of the sampling pass every voting@k reads
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        rewardbench.BENCHMARK,
        rewardbench2.BENCHMARK,
        ppe.PREFERENCE,
        ppe.CORRECTNESS,
        rmb.BENCHMARK,
        hh_rlhf.BENCHMARK,
        realmistake.BENCHMARK,
        miniature.BENCHMARK,
        rmb.TEST,
        hh_rlhf.TEST,
    )
}


def lookup(
    name: str, format: str | None = None, columns: dict[str, str] | None = None, split: str = "train"
) -> Benchmark:
    """A built-in benchmark by name, else a user's preference file or hub dataset (benchmarks/files.py)."""
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    if Path(name).exists() or "/" in name:
        return files.benchmark(name, format, columns, split)
    raise ValueError(
        f"unknown benchmark {name!r}: not a file or a hub dataset (org/name); built in: {', '.join(BENCHMARKS)}"
    )


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
    lengths = GRM(backend=engine).prompt_lengths(items)  # the model's own templates, as judge_to prompts
    return [it for it, n in zip(items, lengths, strict=True) if n <= max_prompt_tokens]


def _items_of(results: Path) -> set[tuple[str, str]]:
    """(benchmark, id) of every item an earlier run judged."""
    return {(r["benchmark"], r["id"]) for r in map(json.loads, results.read_text().splitlines())}


def _mean_score(judgment: Judgment) -> float:
    return judgment.rewards[0] / judgment.n_valid if judgment.rewards else float("-inf")


def summarise(bench: Benchmark, items: list[Item], values: dict[str, float | None], seed: int) -> dict:
    """The benchmark's headline number with its count and interval, from one value per item: an
    outcome (1, 0 or a fraction) for accuracy, a score for ROC-AUC. Items without a value (a
    baseline that cannot judge them) are left out, and counted."""
    scored = [it for it in items if values[it.id] is not None]
    result: dict = {"n": len(scored), "unjudged": len(items) - len(scored), "metric": bench.metric}
    if bench.metric == "ROC-AUC":
        est = auc_bootstrap([[values[it.id] for it in scored]], [it.rating for it in scored], seed=seed)
        return {**result, "score": est.value, "low": est.low, "high": est.high}
    by_subset: dict[str, list[float]] = defaultdict(list)
    for it in scored:
        by_subset[it.meta["subset"]].append(values[it.id])
    est = bootstrap([values[it.id] for it in scored], seed=seed)
    subsets = {s: sum(v) / len(v) for s, v in by_subset.items()}
    return {**result, "low": est.low, "high": est.high, "subsets": subsets, **bench.aggregate(by_subset)}


def item_rng(seed: int, *keys: object) -> random.Random:
    """A generator of its own per item (and k): a figure reads the same whatever the order or the
    company of the items it is computed over (one shared generator moved voting@k by points)."""
    return random.Random("-".join(map(str, (seed, *keys))))


def _mean_at(judgment: Judgment, k: int, rng: random.Random) -> float:
    """The mean valid score of a random k-subset of the samples (-inf when none parsed)."""
    samples = judgment.samples if k >= len(judgment.samples) else rng.sample(judgment.samples, k)
    valid = [s.scores[0] for s in samples if s.scores]
    return sum(valid) / len(valid) if valid else float("-inf")


def _means_at(items: list[Item], judged: dict[str, Judgment], k: int, seed: int) -> list[list[float]]:
    """Each item's mean score over one k-subset of its samples, in `SUBSETS` draws (one when k
    takes them all): what the ROC-AUC of voting@k averages over."""
    rngs = {it.id: item_rng(seed, k, it.id) for it in items}
    draws = 1 if k >= max(len(judged[it.id].samples) for it in items) else SUBSETS
    return [[_mean_at(judged[it.id], k, rngs[it.id]) for it in items] for _ in range(draws)]


def _auc_row(means: list[list[float]], labels: list[int], seed: int) -> dict:
    est = auc_bootstrap(means, labels, seed=seed)
    return {"n": len(labels), "unjudged": 0, "metric": "ROC-AUC", "score": est.value, "low": est.low, "high": est.high}


def _difference(est: Estimate) -> dict[str, float]:
    return {"difference": est.value, "low": est.low, "high": est.high}


def grm_rows(
    bench: Benchmark,
    items: list[Item],
    greedy: dict[str, Judgment],
    sampled: dict[str, Judgment] | None,
    ks: list[int],
    meta: bool,
    seed: int,
    score_range: Callable[[Item], tuple[int, int]],
    ties: str = "random",
) -> tuple[dict[str, dict], dict[str, Paired]]:
    """greedy, voting@k, (with meta scores on the samples) meta@k and, where k allows two
    rounds, adaptive@k for one benchmark. A tie at the top is broken at random (`ties="random"`,
    the paper's evaluation) or wrong ("strict"). Every row beyond greedy holds its difference from
    greedy on the same items ("vs greedy", a paired interval), and the items' values under both are
    returned for a mean over benchmarks. adaptive@k replays adaptive voting (`SCORING`'s rounds and
    confidence) on the pass's first draws, which are the draws it would make (`GRM.draw`): its row
    holds the samples it drew per item, the share of items whose verdict is the vote of all k of
    those draws, and its difference from voting@k on the same items."""

    def won(j: Judgment, it: Item, rng: random.Random) -> float:
        if bench.value is not None:
            return bench.value(j.rewards, it)
        if it.best is None:  # a lone response among pairs (the miniature): its score must round to the rating
            return float(judgment_correct(j, it))
        return outcome(j.rewards, it.best, ties, rng)

    def at(k: int, pick: Callable[..., float]) -> dict[str, float]:
        """Each item's accuracy of `pick` (voting or meta voting) over k of its samples."""
        values = {}
        for it in items:
            rng = item_rng(seed, k, it.id)
            values[it.id] = pick(sampled[it.id], it, k, rng, rule=lambda j, i, rng=rng: won(j, i, rng))
        return values

    def adaptive(k: int) -> tuple[dict[str, float], float, float]:
        """Each item's accuracy of adaptive voting with budget k, the mean samples it drew, and the
        share of items whose verdict is the vote of all k of those draws (what its confidence claims)."""
        values, used, kept = {}, 0, 0
        for it in items:
            samples, n = sampled[it.id].samples, len(it.responses)
            stop = adaptive_stop(sampled[it.id], k, score_range(it))
            replay = vote(it.id, n, samples[:stop], "adaptive", k=k)
            values[it.id] = won(replay, it, item_rng(seed, k, it.id))  # voting@k's tie-breaks where it draws all k
            used += stop
            kept += replay.best == vote(it.id, n, samples[:k]).best
        return values, used / len(items), kept / len(items)

    paired: dict[str, Paired] = {}
    if bench.metric == "ROC-AUC":
        greedy_means = [_mean_score(greedy[it.id]) for it in items]
        rows = {"greedy": summarise(bench, items, dict(zip([it.id for it in items], greedy_means, strict=True)), seed)}
        labels = [it.rating for it in items]
        for k in ks if sampled else []:
            means = _means_at(items, sampled, k, seed)
            rows[f"voting@{k}"] = _auc_row(means, labels, seed)
            paired[f"voting@{k}"] = Paired([greedy_means], means, labels)
    else:
        greedy_won = {it.id: won(greedy[it.id], it, item_rng(seed, it.id)) for it in items}
        rows = {"greedy": summarise(bench, items, greedy_won, seed)}
        reference = [[greedy_won[it.id] for it in items]]
        strategies = [(f"voting@{k}", k, vote_at) for k in ks] if sampled else []
        if sampled and meta:
            strategies += [(f"meta@{k}", k, meta_at) for k in ks if k > 1]
        values_of = {}
        for name, k, pick in strategies:
            values_of[name] = at(k, pick)
            rows[name] = summarise(bench, items, values_of[name], seed)
            paired[name] = Paired(reference, [[values_of[name][it.id] for it in items]])
        for k in [k for k in ks if sampled and k >= 2 * SCORING.round_size]:
            values, used, kept = adaptive(k)
            row = rows[f"adaptive@{k}"] = summarise(bench, items, values, seed)
            row["samples per item"], row[f"same verdict as its {k} draws"] = used, kept
            mine = [[values[it.id] for it in items]]
            voting = [[values_of[f"voting@{k}"][it.id] for it in items]]
            row[f"vs voting@{k}"] = _difference(paired_difference([Paired(voting, mine)], seed=seed))
            paired[f"adaptive@{k}"] = Paired(reference, mine)
        if sampled and meta:
            separation = meta_separation(items, sampled)
            for name in rows.keys() & {f"meta@{k}" for k in ks}:
                rows[name]["meta RM ROC-AUC"] = separation
    for name, pair in paired.items():
        rows[name]["vs greedy"] = _difference(paired_difference([pair], seed=seed))
    return rows, paired


def meta_separation(items: list[Item], sampled: dict[str, Judgment]) -> float | None:
    """How well the meta RM tells a right sample from a wrong one: the ROC-AUC of its scores
    against the rule its training labels follow, over every valid sample (None when all are
    alike). At 0.5 meta@k keeps arbitrary samples, whatever its accuracy happens to be."""
    scored = [(s.meta_score, int(is_correct(s.scores, it))) for it in items for s in sampled[it.id].samples if s.ok]
    if len({label for _, label in scored}) < 2:
        return None
    return roc_auc([m for m, _ in scored], [label for _, label in scored])


def _item_record(name: str, it: Item, outcomes: dict[str, float | None], **extra) -> dict:
    """One line of results.jsonl: the item, its outcome per strategy (strict correctness; None for
    a rated item) and what the model gave (judgments, or a baseline's rewards)."""
    return {"benchmark": name, **it.model_dump(mode="json"), "outcomes": outcomes, **extra}


def run(
    names: list[str | Benchmark],
    engine: Backend | None,
    ks: list[int],
    data: Path,
    out: Path,
    *,
    model: str,
    limit: int | None,
    seed: int = 0,
    batch_size: int = SCORING.batch_size,
    max_new_tokens: int = SCORING.max_new_tokens,
    meta_rm: str | None = None,
    max_prompt_tokens: int | None = None,
    items_of: Path | None = None,
    ties: str = "random",
    subset_tables: bool = False,
) -> dict:
    """Judge and score every benchmark in `names` with `model` (a GRM behind `engine`, or, with no
    engine, a scalar baseline folder). `max_prompt_tokens` leaves longer items out (before
    `limit` draws), counted in results.json under "too long". `items_of`, an earlier run's
    results.jsonl, judges exactly its items instead: a paired comparison of two models, whatever
    their windows (a scalar baseline has no GRM prompt to measure). `ties="strict"` counts a tie
    at the top as wrong (the training rule) instead of breaking it at random; `subset_tables` adds
    a table per subset to results.md. `names` may hold Benchmarks (a user's file read through
    `lookup` with its format and columns); records a load left out are counted in results.json
    under "left out"."""
    chosen = [n if isinstance(n, Benchmark) else lookup(n) for n in names]  # every name checked before any work
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "model": model,
        "samples": ks,
        "limit": limit,
        "meta_rm": meta_rm,
        "benchmarks": {},
        "max_prompt_tokens": max_prompt_tokens,
        "too long": {},
        "left out": {},
        "items of": None if items_of is None else str(items_of),
        "ties": ties,
    }
    earlier = None if items_of is None else _items_of(items_of)
    per_item: list[dict] = []
    paired: dict[str, list[Paired]] = defaultdict(list)  # strategy -> one per benchmark
    for bench in chosen:
        name = bench.name
        items = bench.load(data)
        if bench.left_out:
            results["left out"][name] = dict(bench.left_out)
        if earlier is not None:
            items = [it for it in items if (name, it.id) in earlier]
            if not items:
                raise ValueError(f"{items_of}: no {name} item; it holds {sorted({b for b, _ in earlier})}")
        else:
            if max_prompt_tokens is not None and engine is not None:
                kept = within(items, engine, max_prompt_tokens)
                results["too long"][name] = len(items) - len(kept)
                items = kept
            items = subsample(items, limit, seed)
        if engine is None:
            rows, records = _baseline(bench, items, model, seed, ties)
        else:
            rows, records, pairs = _grm(bench, items, engine, ks, out, batch_size, max_new_tokens, meta_rm, seed, ties)
            for strategy, pair in pairs.items():
                paired[strategy].append(pair)
            results["vs greedy"] = {s: _difference(paired_difference(g, seed=seed)) for s, g in paired.items()}
        results["benchmarks"][name] = rows
        per_item += records
        results["overall"] = _overall(results["benchmarks"])
        (out / "results.json").write_text(json.dumps(results, indent=1))  # after each benchmark: nothing lost
        (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in per_item))
    write_table([results], out / "results.md", subsets=subset_tables)
    plot(results, out / "results.png")
    return results


def _grm(
    bench: Benchmark,
    items: list[Item],
    engine: Backend,
    ks: list[int],
    out: Path,
    batch_size: int,
    max_new_tokens: int,
    meta_rm: str | None,
    seed: int,
    ties: str,
) -> tuple[dict, list[dict], dict[str, Paired]]:
    folder = out / bench.name
    rated = bench.metric == "ROC-AUC"
    meta = meta_rm is not None and not rated  # meta@k is an accuracy strategy: a rated item has no vote to steer
    greedy = judge_to(engine, items, 1, 0.0, folder / "greedy.jsonl", batch_size, max_new_tokens)
    sampled = None
    if max(ks) > 1:
        sampled = judge_to(engine, items, max(ks), T, folder / f"sampled-k{max(ks)}.jsonl", batch_size, max_new_tokens)
        if meta:
            from spct.scaling.meta_rm import MetaRM

            for it, samples in zip(
                items, MetaRM(meta_rm).annotate(items, [sampled[it.id].samples for it in items]), strict=True
            ):
                sampled[it.id].samples = samples
    templates = Templates.of(engine.model_id)  # the model's own, as `judge_to` judged with
    rows, paired = grm_rows(bench, items, greedy, sampled, ks, meta, seed, lambda it: templates(it).score_range, ties)
    rows["greedy"]["parsed"] = _parse_rate(items, greedy)
    if sampled:
        parsed = _parse_rate(items, sampled)  # one pass serves every k
        for strategy in rows.keys() - {"greedy"}:
            rows[strategy]["parsed"] = parsed
    strict = {"greedy": greedy} | ({f"voting@{max(ks)}": sampled} if sampled else {})
    records = [
        _item_record(
            bench.name,
            it,
            {s: None if rated else _strict(bench, j[it.id], it) for s, j in strict.items()},
            judgments={s: j[it.id].model_dump(mode="json") for s, j in strict.items()},
        )
        for it in items
    ]
    return rows, records, paired


def _strict(bench: Benchmark, judgment: Judgment, item: Item) -> float:
    """An item's outcome in results.jsonl: strict correctness, or the benchmark's own rule."""
    return bench.value(judgment.rewards, item) if bench.value else float(judgment_correct(judgment, item))


def _parse_rate(items: list[Item], judged: dict[str, Judgment]) -> float:
    """The share of samples that parsed (a failed one is skipped by the vote, so counts as wrong
    where all of an item's failed): the first thing to read when a score is low."""
    return sum(judged[it.id].n_valid for it in items) / sum(len(judged[it.id].samples) for it in items)


def _baseline(bench: Benchmark, items: list[Item], model: str, seed: int, ties: str) -> tuple[dict, list[dict]]:
    """A scalar baseline's one row: its rewards, a tie read like the GRM's."""
    from spct.train.baseline import rewards

    rated = bench.metric == "ROC-AUC"  # ranks the raw rewards of lone responses
    given = dict(zip([it.id for it in items], rewards(model, items, ranked=rated), strict=True))
    values: dict[str, float | None] = {}
    for it in items:
        r = given[it.id]
        if r is None or rated:
            values[it.id] = None if r is None else r[0]
        elif bench.value is not None:
            values[it.id] = bench.value(r, it)
        else:  # a lone response among pairs: the baseline's 0/1 reading against the rating
            tie = item_rng(seed, it.id)
            values[it.id] = float(is_correct(r, it)) if it.best is None else outcome(r, it.best, ties, tie)
    records = [
        _item_record(bench.name, it, {"scalar": None if rated else values[it.id]}, rewards=given[it.id]) for it in items
    ]
    return {"scalar": summarise(bench, items, values, seed)}, records


def _overall(benchmarks: dict[str, dict]) -> dict[str, float]:
    """The paper's Overall per strategy, where all four of its benchmarks were measured."""
    papers = {n: BENCHMARKS[n].paper for n in benchmarks if n in BENCHMARKS and BENCHMARKS[n].paper}
    strategies = next(iter(benchmarks.values())).keys()
    out = {}
    for s in strategies:
        value = overall({papers[n]: rows[s]["score"] for n, rows in benchmarks.items() if n in papers and s in rows})
        if value is not None:
            out[s] = value
    return out


def combine(runs: list[dict]) -> list[dict]:
    """One result per model where its benchmarks were measured by separate runs (held out in one
    folder, in-distribution in another), so that a table gives the model one row per strategy;
    runs of a model that measured the same benchmark (another device, another budget) stay apart."""
    combined: list[dict] = []
    for results in runs:
        same = next(
            (
                c
                for c in combined
                if c["model"] == results["model"] and not c["benchmarks"].keys() & results["benchmarks"].keys()
            ),
            None,
        )
        if same is None:
            combined.append(dict(results))
        else:
            same["benchmarks"] = same["benchmarks"] | results["benchmarks"]
            same["overall"] = _overall(same["benchmarks"])
            same.pop("vs greedy", None)  # a mean over the first run's benchmarks only; each row keeps its own
    return combined
