"""How results are shown: Markdown tables (`markdown_table`, `estimate`, shared by `spct eval`
and `spct reasoning`; their figures use `io.figure`), and `spct report RUN --html page.html`:
every judged item of `spct eval` on one self-contained page (no network, no files beside it):
the query, the responses with the ground truth, each sample's principles, critique and scores,
the vote, and the outcome; filterable by benchmark and correctness. The filters live in the
address (`#benchmark=rmb&outcome=wrong`), so a view can be shared. Model output is untrusted
text: the page only ever sets it as text, never as markup."""

from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]


def estimate(row: dict | None, key: str = "score") -> str:
    """A measured share as a cell: percent, its bootstrap interval where there is one, its count."""
    if row is None:
        return "-"
    interval = f" [{100 * row['low']:.1f}, {100 * row['high']:.1f}]" if "low" in row else ""
    return f"{100 * row[key]:.1f}{interval} (n={row['n']})"


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
