"""`spct report --html`: the page renders every judged item in headless Chromium (Debian's
chromium, installed by .ci/run), the filters in its address select by benchmark and outcome, and
model text that looks like markup stays text."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import ScriptedJudge

from spct.core.items import Item
from spct.eval import run as eval_run
from spct.eval.benchmarks import Benchmark
from spct.eval.report import plot_runs

HOSTILE = '<img src=x onerror="document.title=1"></script><b>bold</b>'


def _toy(prefix: str, wrong: int):
    """Items the scripted judge gets right ('right' is the best) and `wrong` it gets wrong."""

    def load(root: Path) -> list[Item]:
        items = [
            Item(
                id=f"{prefix}-ok-{i}",
                query=f"Question {prefix} {i}?",
                responses=["right", f"poor {i}"],
                best=0,
                meta={"subset": "s"},
            )
            for i in range(3)
        ]
        items += [
            Item(
                id=f"{prefix}-bad-{i}", query=HOSTILE, responses=["right", f"better {i}"], best=1, meta={"subset": "s"}
            )
            for i in range(wrong)
        ]
        return items

    return load


def _chromium(args: list[str], tmp: Path) -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed (.ci/run installs Debian's chromium package)"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=3000",
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.fixture()
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from spct.eval.report import write_html

    monkeypatch.setitem(eval_run.BENCHMARKS, "toy-a", Benchmark("toy-a", _toy("a", wrong=2)))
    monkeypatch.setitem(eval_run.BENCHMARKS, "toy-b", Benchmark("toy-b", _toy("b", wrong=1)))
    eval_run.run(["toy-a", "toy-b"], ScriptedJudge(), [1, 2], tmp_path, tmp_path / "run", model="scripted", limit=None)
    write_html([tmp_path / "run" / "results.jsonl"], tmp_path / "report.html")
    return tmp_path / "report.html"


def test_the_page_shows_every_item_with_its_judgments_and_filters(page: Path, tmp_path: Path):
    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert dom.count('class="item ') == 9 and "9 of 9 items" in dom
    assert "Question a 0?" in dom and "Says right (100%)" in dom and "checked" in dom  # query, principle, critique
    assert "ground truth: best" in dom and "voting@2: correct" in dom and "greedy: wrong" in dom
    shown = dom[dom.index('<main id="items">') : dom.index("</main>")]
    assert "<img" not in shown and "<b>bold" not in shown and "&lt;img src=x" in shown  # hostile text stays text
    assert "<title>spct report</title>" in dom  # and its handler never ran
    wrong = _chromium(["--dump-dom", page.as_uri() + "#outcome=wrong"], tmp_path)
    assert wrong.count('class="item wrong"') == 3 and 'class="item correct"' not in wrong and "3 of 9 items" in wrong
    only_b = _chromium(["--dump-dom", page.as_uri() + "#benchmark=toy-b&outcome=correct"], tmp_path)
    assert only_b.count('data-benchmark="toy-b"') == 3 and 'data-benchmark="toy-a"' not in only_b


def test_report_command_writes_the_page_and_one_table_of_several_runs(page: Path, tmp_path: Path):
    import shutil as sh

    from typer.testing import CliRunner

    from spct.cli import app

    sh.copytree(tmp_path / "run", tmp_path / "run2")
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(tmp_path / "run" / "results.jsonl"),
            str(tmp_path / "run2"),
            "--html",
            str(tmp_path / "both.html"),
            "--table",
            str(tmp_path / "t.md"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = (tmp_path / "t.md").read_text().splitlines()
    assert table[0] == "| model | strategy | toy-a | toy-b |"
    assert sum(line.startswith("| scripted |") for line in table) == 2 * 3  # 2 runs x 3 strategies
    assert (tmp_path / "both.html").read_text().count('"benchmark": "toy-a"') == 2 * 5
    assert CliRunner().invoke(app, ["report", str(tmp_path / "run")]).exit_code == 2  # neither --html nor --table
    assert (tmp_path / "t.png").stat().st_size > 0  # the bar chart beside the table
    measured = json.loads((tmp_path / "run" / "results.json").read_text())
    drawn = plot_runs([measured], tmp_path / "one.png")
    expected = {
        (f"scripted {s}", n, 100 * row["score"])
        for n, rows in measured["benchmarks"].items()
        for s, row in rows.items()
    }
    assert set(drawn) == expected and len(drawn) == 2 * 3  # a bar per benchmark and strategy, at its score
