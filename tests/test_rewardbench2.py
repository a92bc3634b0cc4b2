"""RewardBench 2 in its published format, written here: best-of-4 items, the Ties subset's own
scoring (ref and tied records of one prompt judged as one item) and the total, against numbers
worked out by hand from reward-bench 2's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import ScriptedJudge

from spct.eval.benchmarks import MissingField, rewardbench2
from spct.eval.run import lookup, run


def _rb2(rows: list[dict]) -> list[dict]:
    return [{"num_correct": len(r["chosen"]), "models": [], **r} for r in rows]


ROWS = _rb2(
    [
        {
            "id": "1",
            "prompt": "Who wrote it?",
            "chosen": ["right"],
            "rejected": ["a", "b", "c"],
            "subset": "Factuality",
        },
        {"id": "2", "prompt": "Who else?", "chosen": ["x"], "rejected": ["right", "b", "c"], "subset": "Factuality"},
        # the judge likes every answer starting "right": a tie of two at the top shares the point
        {"id": "3", "prompt": "2 + 2?", "chosen": ["right 4"], "rejected": ["right-ish 5", "b", "c"], "subset": "Math"},
        {"id": "ref:7", "prompt": "A prime?", "chosen": ["right 5"], "rejected": ["bad 4", "bad 6"], "subset": "Ties"},
        {
            "id": "tied:7",
            "prompt": "A prime?",
            "chosen": ["right 5", "right 7"],
            "rejected": ["bad 4", "bad 6"],
            "subset": "Ties",
        },
        # the judge also likes the wrong "right 3": ref fails, tied holds, the hard margin fails
        {"id": "ref:8", "prompt": "An even?", "chosen": ["right 2"], "rejected": ["right 3"], "subset": "Ties"},
        {"id": "tied:8", "prompt": "An even?", "chosen": ["right 2", "right 6"], "rejected": ["x 9"], "subset": "Ties"},
        {"id": "ref:9", "prompt": "Alone?", "chosen": ["right"], "rejected": ["no"], "subset": "Ties"},  # no tied:9
    ]
)


def _judge() -> ScriptedJudge:
    return ScriptedJudge(good=lambda r: r.startswith("right"))


def test_published_files_are_scored_as_reward_bench_2_scores_them(tmp_path: Path):
    folder = tmp_path / "reward-bench-2"
    folder.mkdir()
    pd.DataFrame(ROWS[:3]).to_parquet(folder / "test-part1.parquet")
    (folder / "ties.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[3:]))
    items = {it.id: it for it in rewardbench2.load(tmp_path)}
    assert rewardbench2.LEFT_OUT == {"Ties prompts without both a ref and a tied record": 1}
    ties = items["ties-7"]
    assert ties.responses == ["right 5", "bad 4", "bad 6", "right 7"]  # every distinct answer once
    assert ties.meta["tied_correct"] == [0, 3] and ties.meta["ref_incorrect"] == [1, 2]

    results = run([lookup("rewardbench2")], _judge(), [1], tmp_path, tmp_path / "out", model="scripted", limit=None)
    greedy = results["benchmarks"]["rewardbench2"]["greedy"]
    # Ties: prompt 7 = 0.3 + 0.3 + 0.2 + 0.2 + 0.01 (gap 8 over a spread of 0: tanh(inf));
    # prompt 8 = 0.3 (tied) + 0.2 (tied gap 8 > spread 0); its ref gap is 0, so the hard margin fails
    assert greedy["subsets"] == pytest.approx({"Factuality": 0.5, "Math": 0.5, "Ties": (1.01 + 0.5) / 2})
    assert greedy["score"] == pytest.approx((0.5 + 0.5 + 0.755) / 3)  # the mean of the subsets
    assert results["left out"] == {"rewardbench2": {"Ties prompts without both a ref and a tied record": 1}}
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "out" / "results.jsonl").open())}
    assert records["rb2-3"]["outcomes"]["greedy"] == 0.5 and records["ties-8"]["outcomes"]["greedy"] == 0.5


def test_ties_margins_against_hand_computed_values():
    it = rewardbench2._ties_item(
        "1",
        {"prompt": "q", "chosen": ["c1"], "rejected": ["w1", "w2"]},
        {"prompt": "q", "chosen": ["c1", "c2"], "rejected": ["w1", "w2"]},
    )
    # ref gap 9 - 5 = 4, tied spread 2 and gap 2: accurate both, neither margin beats the spread
    assert rewardbench2.value([9, 4, 5, 7], it) == pytest.approx(0.6)
    # spread 1, tied gap 3, hard gap min(4, 3) = 3: both margins, and 0.01 tanh(3 / 1 - 1)
    assert rewardbench2.value([9, 4, 5, 8], it) == pytest.approx(1.0 + 0.01 * 0.9640275800758169)
    assert rewardbench2.value(None, it) == 0.0  # nothing parsed


def test_bad_records_name_the_file_the_record_and_the_field(tmp_path: Path):
    folder = tmp_path / "reward-bench-2"
    folder.mkdir()
    bad = {k: v for k, v in ROWS[0].items() if k != "rejected"}
    (folder / "a.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(MissingField, match=r"a\.jsonl record 0: field 'rejected' is missing"):
        rewardbench2.load(tmp_path)
    (folder / "a.jsonl").write_text(json.dumps({**ROWS[3], "id": "7"}) + "\n")
    with pytest.raises(ValueError, match=r"a\.jsonl record 0: field 'id': a Ties id is ref:N or tied:N, got '7'"):
        rewardbench2.load(tmp_path)
