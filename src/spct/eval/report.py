"""`spct report RUN --html page.html`: every judged item of `spct eval` on one self-contained page
(no network, no files beside it): the query, the responses with the ground truth, each sample's
principles, critique and scores, the vote, and the outcome; filterable by benchmark and
correctness. The filters live in the address (`#benchmark=rmb&outcome=wrong`), so a view can be
shared. Model output is untrusted text: the page only ever sets it as text, never as markup."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path


def write_html(sources: list[Path], path: Path) -> None:
    """One page from the results.jsonl of one or more runs (each item tagged with its run)."""
    items = []
    for source in sources:
        run = f"{source.parent.name} ({Path(json.loads((source.parent / 'results.json').read_text())['model']).name})"
        items += [{**json.loads(line), "run": run} for line in source.read_text().splitlines()]
    data = json.dumps(items).replace("</", "<\\/")  # no "</script>" can end the data block early
    page = files("spct.eval").joinpath("report.html").read_text().replace("__DATA__", data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
