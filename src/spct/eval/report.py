"""How results are shown: Markdown tables (`markdown_table`, `estimate`, shared by `spct eval`
and `spct reasoning`; their figures use `io.figure`); `spct eval`'s results.md and results.png
(`write_table`, `plot`), and `spct report --table`'s figure (`plot_runs`); and `spct report RUN
--html page.html`: every judged item of `spct eval` on one self-contained page (no network, no
files beside it): the query, the responses with the ground truth, each sample's principles,
critique and scores, the vote, and the outcome; filterable by benchmark and correctness. The
filters live in the address (`#benchmark=rmb&outcome=wrong`), so a view can be shared. Model
output is untrusted text: the page only ever sets it as text, never as markup."""

from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path

from spct.core.defaults import SCORING
from spct.io import figure


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def estimate(row: dict | None, key: str = "score") -> str:
    """A measured share as a cell: percent, its bootstrap interval where there is one, its count."""
    if row is None:
        return "-"
    interval = f" [{100 * row['low']:.1f}, {100 * row['high']:.1f}]" if "low" in row else ""
    return f"{100 * row[key]:.1f}{interval} (n={row['n']})"


def label(results: dict) -> str:
    """A run's model as a table names it: the folder, or for a stage's `<run>/model`, the run."""
    path = Path(results["model"])
    return path.parent.name if path.name == "model" else path.name


def write_table(runs: list[dict], path: Path, subsets: bool = False) -> None:
    """The paper's layout: a row per model and strategy, a column per benchmark (score, interval,
    n) and Overall where a run measured all four of its benchmarks; with `subsets`, one more table
    per accuracy benchmark, a column per subset (the miniature's families, RMB's parts)."""
    names = list(dict.fromkeys(n for r in runs for n in r["benchmarks"]))
    with_overall = any(r.get("overall") for r in runs)
    rows = []
    for results in runs:
        for s in dict.fromkeys(s for rows in results["benchmarks"].values() for s in rows):
            cells = [estimate(results["benchmarks"].get(n, {}).get(s)) for n in names]
            if with_overall:
                value = results.get("overall", {}).get(s)
                cells.append("-" if value is None else f"{100 * value:.1f}")
            rows.append([label(results), s, *cells])
    lines = markdown_table(["model", "strategy", *names, *(["Overall"] if with_overall else [])], rows)
    notes = []
    for results in runs:
        for kind, pick in (("greedy", lambda rows: rows.get("greedy", {})), ("sampled", _sampled_row)):
            parsed = {n: pick(rows)["parsed"] for n, rows in results["benchmarks"].items() if "parsed" in pick(rows)}
            if parsed:
                notes.append(
                    f"- {label(results)}, samples that parsed ({kind}): "
                    + ", ".join(f"{n} {100 * v:.1f}%" for n, v in parsed.items())
                )
        separation = {
            n: row["meta RM ROC-AUC"]
            for n, rows in results["benchmarks"].items()
            for row in rows.values()
            if row.get("meta RM ROC-AUC") is not None
        }
        if separation:
            notes.append(
                f"- {label(results)}, meta RM ROC-AUC for a right sample (0.5: no better than chance): "
                + ", ".join(f"{n} {v:.2f}" for n, v in separation.items())
            )
        notes += _against_greedy(results) + _adaptive_notes(results)
        rb = results["benchmarks"].get("rewardbench")
        sections = next(iter(rb.values())).get("sections", {}) if rb else {}
        if rb and len(sections) < 4:
            notes.append(f"- {label(results)}: RewardBench from its sections {', '.join(sections)} only")
    if subsets:
        lines += [line for name in names for line in _subset_table(runs, name)]
    path.write_text("\n".join(lines + (["", *notes] if notes else [])) + "\n")


def _points(d: dict) -> str:
    return f"{100 * d['difference']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"


def _against_greedy(results: dict) -> list[str]:
    """One note per strategy: its difference from greedy per benchmark and, over several, their
    mean, each with its paired interval (points; ROC-AUC in points of AUC)."""
    notes = []
    strategies = dict.fromkeys(
        s for rows in results["benchmarks"].values() for s, r in rows.items() if "vs greedy" in r
    )
    for s in strategies:
        parts = [f"{n} {_points(rows[s]['vs greedy'])}" for n, rows in results["benchmarks"].items() if s in rows]
        pooled = results.get("vs greedy", {}).get(s)
        if pooled and len(parts) > 1:
            parts.append(f"mean of the benchmarks {_points(pooled)}")
        notes.append(
            f"- {label(results)}, {s} minus greedy on the same items (paired 95% interval): " + ", ".join(parts)
        )
    return notes


def _adaptive_notes(results: dict) -> list[str]:
    """One note per adaptive@k: what it drew per item, how often its early stop kept the verdict
    of all k draws, and its difference from voting@k on the same items (paired): what the early
    stops cost or gained."""
    notes = []
    for s in dict.fromkeys(s for rows in results["benchmarks"].values() for s in rows if s.startswith("adaptive@")):
        k = int(s.split("@")[1])
        parts = [
            f"{n} {rows[s]['samples per item']:.1f} samples per item ({100 * rows[s]['samples per item'] / k:.0f}%),"
            f" the verdict of all {k} draws on {100 * rows[s][f'same verdict as its {k} draws']:.0f}% of the items,"
            f" {_points(rows[s][f'vs voting@{k}'])}"
            for n, rows in results["benchmarks"].items()
            if s in rows
        ]
        notes.append(
            f"- {label(results)}, {s} (rounds of {SCORING.round_size}, confidence {SCORING.confidence}) minus"
            f" voting@{k} on the same items (paired 95% interval): " + "; ".join(parts)
        )
    return notes


def _sampled_row(rows: dict) -> dict:
    """The row of a benchmark's sampled pass (every voting@k reads the same pass), or {}."""
    return next((row for s, row in rows.items() if s.startswith("voting@")), {})


def _subset_table(runs: list[dict], name: str) -> list[str]:
    measured = [r for r in runs if "subsets" in next(iter(r["benchmarks"].get(name, {"": {}}).values()))]
    columns = sorted({s for r in measured for rows in r["benchmarks"][name].values() for s in rows["subsets"]})
    if not columns:
        return []
    rows = [
        [
            label(results),
            strategy,
            *(f"{100 * row['subsets'][c]:.1f}" if c in row["subsets"] else "-" for c in columns),
        ]
        for results in measured
        for strategy, row in results["benchmarks"][name].items()
    ]
    return ["", f"{name} by subset:", "", *markdown_table(["model", "strategy", *columns], rows)]


def plot(results: dict, path: Path) -> None:
    """Score against k per benchmark (voting solid, meta-RM voting dotted, greedy dashed, adaptive
    voting as squares at the samples it drew per item)."""
    xlabel, ylabel = f"k (sampled judgments, T = {SCORING.sampled_temperature})", "score (%; dashed: greedy)"
    with figure(path, label(results), xlabel, ylabel) as ax:
        ax.set_xscale("log", base=2)
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
            adaptive = [row for s, row in rows.items() if s.startswith("adaptive@")]
            if adaptive:  # at the samples it drew, not its budget
                ax.plot(
                    [row["samples per item"] for row in adaptive],
                    [100 * row["score"] for row in adaptive],
                    marker="s",
                    linestyle="none",
                    label=f"{name} adaptive",
                )


def plot_runs(runs: list[dict], path: Path) -> list[tuple[str, str, float]]:
    """Several runs side by side: a bar per run and strategy in each benchmark, with its interval
    where it has one (`spct report --table`'s figure). Returns the bars drawn: (legend, benchmark,
    height in %)."""
    names = list(dict.fromkeys(n for r in runs for n in r["benchmarks"]))
    bars = [(r, s) for r in runs for s in dict.fromkeys(s for rows in r["benchmarks"].values() for s in rows)]
    width = 0.8 / len(bars)
    drawn: list[tuple[str, str, float]] = []
    with figure(path, "", "", "score (%)", size=(1.5 + 1.2 * len(names) * max(1, len(bars) / 3), 4)) as ax:
        for i, (results, strategy) in enumerate(bars):
            rows = [results["benchmarks"].get(n, {}).get(strategy) for n in names]
            x = [j + i * width for j, row in enumerate(rows) if row]
            shown = [row for row in rows if row]
            below, above = ([100 * abs(r["score"] - r.get(end, r["score"])) for r in shown] for end in ("low", "high"))
            scores = [100 * r["score"] for r in shown]
            legend = f"{label(results)} {strategy}"
            ax.bar(x, scores, width, yerr=[below, above], label=legend)
            drawn += [
                (legend, n, h)
                for n, h in zip([n for n, row in zip(names, rows, strict=True) if row], scores, strict=True)
            ]
        ax.set_xticks([j + width * (len(bars) - 1) / 2 for j in range(len(names))], names)
    return drawn


def write_html(sources: list[Path], path: Path) -> None:
    """One page from the results.jsonl of one or more runs (each item tagged with its run)."""
    items = []
    for source in sources:
        run = f"{source.parent.name} ({Path(json.loads((source.parent / 'results.json').read_text())['model']).name})"
        items += [{**json.loads(line), "run": run} for line in source.read_text().splitlines()]
    # "<" as \u003c: neither "</script>" nor "<!--<script>" (which makes the parser swallow the
    # page's own script) can appear in the data block; NaN, which JSON.parse refuses, becomes null
    data = json.dumps(_finite(items), allow_nan=False).replace("<", "\\u003c")
    page = files("spct.eval").joinpath("report.html").read_text().replace("__DATA__", data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
