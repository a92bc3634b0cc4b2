"""`spct eval PATH_OR_HUB_NAME`: a user's preference data in each format and file type, written
here, scored by the scripted judge (it gives 'right' 10 and every other response 2) against counts
made by hand; bad records named by file, record and column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import ScriptedJudge
from typer.testing import CliRunner

from spct.eval.benchmarks import MissingField
from spct.eval.benchmarks.files import benchmark, parse_columns


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(source: Path | str, out: Path, *args, **options):
    from spct.eval.run import lookup, run

    return run([lookup(str(source), *args, **options)], ScriptedJudge(), [1], out, out, model="scripted", limit=None)


def test_a_pairwise_file_is_scored_like_a_builtin_and_tied_labels_are_counted_out(tmp_path: Path):
    rows = [
        {"prompt": "q1", "chosen": "right", "rejected": "bad", "subset": "a"},
        {"prompt": "q2", "chosen": "right", "rejected": "wrong", "subset": "a"},
        {"prompt": "q3", "chosen": "bad", "rejected": "right", "subset": "b"},  # the judge picks the rejected
        {"prompt": "q4", "chosen": "same", "rejected": "same", "subset": "b"},  # a tie in the labels
    ]
    results = _run(_jsonl(tmp_path / "prefs.jsonl", rows), tmp_path / "out")
    greedy = results["benchmarks"]["prefs"]["greedy"]
    assert greedy["n"] == 3 and greedy["score"] == pytest.approx(2 / 3)
    assert greedy["subsets"] == {"a": 1.0, "b": 0.0}
    assert results["left out"] == {"prefs": {"tied labels": 1}}
    assert (tmp_path / "out" / "results.md").read_text().startswith("| model | strategy | prefs |")
    records = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").open()]
    assert sorted(r["id"] for r in records) == ["0", "1", "2"]  # the record's position when it has no id


def test_best_of_n_csv_with_mapped_columns_and_scores(tmp_path: Path):
    path = tmp_path / "votes.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["qid", "question", "answers", "marks"])
        writer.writeheader()
        writer.writerow(
            {"qid": "x", "question": "q", "answers": json.dumps(["bad", "right", "worse"]), "marks": "[1, 9, 3]"}
        )
        writer.writerow(
            {"qid": "y", "question": "q", "answers": json.dumps(["right", "bad", "worse"]), "marks": "[2, 8, 8]"}
        )
        writer.writerow({"qid": "z", "question": "q", "answers": json.dumps(["bad", "right"]), "marks": "[7, 1]"})
    columns = parse_columns("id=qid,prompt=question,responses=answers,scores=marks")
    bench = benchmark(str(path), "best-of-n", columns)
    items = {it.id: it for it in bench.load(tmp_path)}
    assert set(items) == {"x", "z"} and bench.left_out == {"tied labels": 1}  # y: two top scores of 8
    assert items["x"].responses[items["x"].best] == "right" and items["z"].responses[items["z"].best] == "bad"
    results = _run(path, tmp_path / "out", "best-of-n", columns)
    assert results["benchmarks"]["votes"]["greedy"]["score"] == pytest.approx(1 / 2)  # x right, z wrong


def test_a_rating_parquet_file_is_ranked_by_roc_auc(tmp_path: Path):
    rows = [
        {"prompt": "q1", "response": "right", "label": True},
        {"prompt": "q2", "response": "bad", "label": False},
        {"prompt": "q3", "response": "right", "label": True},
        {
            "prompt": "q4",
            "response": "right",
            "label": False,
        },  # scored 10 like the true ones: tied
    ]
    path = tmp_path / "ratings.parquet"
    pd.DataFrame(rows).to_parquet(path)
    results = _run(path, tmp_path / "out")
    greedy = results["benchmarks"]["ratings"]["greedy"]
    assert greedy["metric"] == "ROC-AUC"
    # positives q1, q3 score 10; negatives q2 (2) and q4 (10): pairs (q1,q2) (q3,q2) won, (q1,q4) (q3,q4) tied
    assert greedy["score"] == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)


def test_conversation_style_records_take_the_shared_turns_as_the_prompt(tmp_path: Path):
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "q"},
    ]
    rows = [
        {
            "chosen": [*turns, {"role": "assistant", "content": "right"}],
            "rejected": [*turns, {"role": "assistant", "content": "bad"}],
        },
        {"prompt": turns, "chosen": "right", "rejected": "bad"},
    ]
    items = benchmark(str(_jsonl(tmp_path / "chat.jsonl", rows))).load(tmp_path)
    for it in items:
        assert [m.content for m in it.conversation] == ["hi", "hello", "q"]
        assert sorted(it.responses) == ["bad", "right"] and it.responses[it.best] == "right"


def test_the_hub_is_asked_by_name_and_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import datasets

    asked = []

    def hub(name: str, split: str):
        asked.append((name, split))
        return datasets.Dataset.from_list([{"prompt": "q", "chosen": "right", "rejected": "bad"}])

    monkeypatch.setattr(datasets, "load_dataset", hub)
    results = _run("someone/prefs", tmp_path / "out", split="test")
    assert results["benchmarks"]["someone/prefs"]["greedy"]["score"] == 1.0
    assert set(asked) == {("someone/prefs", "test")}


def test_bad_records_name_the_file_the_record_and_the_column(tmp_path: Path):
    path = _jsonl(
        tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "a"}]
    )
    with pytest.raises(MissingField, match=r"p\.jsonl record 1: field 'rejected' is missing"):
        benchmark(str(path)).load(tmp_path)
    path = _jsonl(tmp_path / "r.jsonl", [{"question": "q", "response": "a", "label": "maybe"}])
    with pytest.raises(ValueError, match=r"r\.jsonl record 0: field 'label' is 'maybe'"):
        benchmark(str(path), columns={"prompt": "question"}).load(tmp_path)
    with pytest.raises(MissingField, match=r"r\.jsonl record 0: field 'prompt' is missing"):
        benchmark(str(path), "rating").load(tmp_path)
    path = _jsonl(tmp_path / "d.jsonl", [{"id": 1, "prompt": "q", "chosen": "a", "rejected": "b"}] * 2)
    with pytest.raises(ValueError, match=r"d\.jsonl record 1: id '1' is used by an earlier record"):
        benchmark(str(path)).load(tmp_path)
    with pytest.raises(MissingField, match="no format's columns found"):
        benchmark(str(_jsonl(tmp_path / "n.jsonl", [{"text": "q"}])))
    with pytest.raises(ValueError, match="is not ROLE=COLUMN"):
        parse_columns("prompt=q,answer")


def test_the_cli_names_a_bad_file_and_a_bad_column_map_without_a_traceback(tmp_path: Path):
    from spct.cli import app

    path = _jsonl(tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "a"}])
    runner = CliRunner()
    bad_map = runner.invoke(app, ["eval", str(path), "--columns", "query=prompt"])
    assert bad_map.exit_code == 2 and "ROLE=COLUMN" in bad_map.output
    from spct.grm import MINIATURE_MODEL

    missing = runner.invoke(
        app, ["eval", str(path), "--format", "pairwise", "--model", str(MINIATURE_MODEL), "--out", str(tmp_path / "o")]
    )
    assert missing.exit_code == 2 and "field 'rejected' is missing" in missing.output
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
