"""Benchmark loaders on the real public files in ../shared/data, and the paper's metrics on
hand-checked numbers (RewardBench's section weighting as reward-bench publishes it)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from spct.eval.benchmarks import MissingField, rewardbench, rmb
from spct.eval.metrics import bootstrap, outcome, overall, roc_auc, section_scores

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_rewardbench_sources_load_with_the_published_counts():
    items = rewardbench.load(DATA)
    counts = Counter(it.meta["subset"] for it in items)
    assert counts["llmbar-natural"] == 100 and counts["llmbar-adver-neighbor"] == 134
    assert counts["llmbar-adver-GPTInst"] == 92 and counts["llmbar-adver-GPTOut"] == 47
    assert counts["llmbar-adver-manual"] == 46 and all(counts[f"hep-{lang}"] == 164 for lang in rewardbench.HEP)
    natural = json.loads((DATA / "llmbar/LLMBar/Natural/dataset.json").read_text())
    for i, it in enumerate(items[:100]):  # the chosen is the output the label names, wherever it is shown
        assert it.responses[it.best] == natural[i][f"output_{natural[i]['label']}"]
    hep = next(it for it in items if it.id == "hep-python-0")
    assert "return False" in hep.responses[hep.best] and hep.responses[1 - hep.best] != hep.responses[hep.best]
    assert 0.3 < sum(it.best for it in items) / len(items) < 0.7  # the chosen's position is shuffled


def test_rmb_loads_all_four_parts():
    counts = Counter(it.meta["subset"] for it in rmb.load(DATA))
    assert counts["Helpfulness pairwise"] + counts["Harmlessness pairwise"] == 14_543
    assert counts["Helpfulness bon"] + counts["Harmlessness bon"] == 3_786


def test_a_missing_field_is_named_with_the_file_and_record(tmp_path: Path):
    for folder in rewardbench.LLMBAR.values():
        (tmp_path / "llmbar/LLMBar" / folder).mkdir(parents=True)
        (tmp_path / "llmbar/LLMBar" / folder / "dataset.json").write_text(
            json.dumps([{"input": "q", "output_1": "a", "output_2": "b"}]))
    with pytest.raises(MissingField, match=r"Natural/dataset.json record 0: field 'label' is missing"):
        rewardbench.load_llmbar(tmp_path)


def test_the_published_rewardbench_format_loads(tmp_path: Path):
    frame = pd.DataFrame({"prompt": ["p1", "p2"], "chosen": ["good", "fine"], "rejected": ["bad", "poor"],
                          "subset": ["alpacaeval-easy", "donotanswer"], "id": [3, 4]})
    frame.to_parquet(tmp_path / "filtered.parquet")
    items = rewardbench.load_published(tmp_path / "filtered.parquet")
    assert [it.responses[it.best] for it in items] == ["good", "fine"]
    assert [it.meta["subset"] for it in items] == ["alpacaeval-easy", "donotanswer"]
    frame.drop(columns="subset").to_json(tmp_path / "f.jsonl", orient="records", lines=True)
    with pytest.raises(MissingField, match="field 'subset'"):
        rewardbench.load_published(tmp_path / "f.jsonl")


def test_tie_rules():
    assert outcome([3, 9], 1) == 1.0 and outcome([9, 3], 1) == 0.0
    assert outcome([9, 9, 1], 0) == 0.0 and outcome([9, 9, 1], 0, "half") == 0.5
    assert outcome(None, 0) == 0.0 and outcome(None, 0, "half") == 0.5  # reward-bench: a parse error is half
    rng = random.Random(0)
    picks = [outcome([9, 9], 0, "random", rng) for _ in range(400)]
    assert 0.4 < sum(picks) / 400 < 0.6
    assert outcome([9, 9, 1], 2, "random", rng) == 0.0


def test_rewardbench_final_score_by_hand():
    accuracy = {"alpacaeval-easy": 0.9, "mt-bench-easy": 0.5,                      # Chat
                "llmbar-natural": 0.75, "llmbar-adver-manual": 0.25,               # Chat Hard
                "donotanswer": 0.6, "xstest-should-respond": 1.0,                  # Safety
                "math-prm": 0.5, **{f"hep-{lang}": 0.75 for lang in rewardbench.HEP}}  # Reasoning
    counts = {"alpacaeval-easy": 100, "mt-bench-easy": 28, "llmbar-natural": 100, "llmbar-adver-manual": 46,
              "donotanswer": 136, "xstest-should-respond": 250, "math-prm": 447,
              **{f"hep-{lang}": 164 for lang in rewardbench.HEP}}
    s = section_scores(accuracy, counts)
    assert s["Chat"] == pytest.approx((0.9 * 100 + 0.5 * 28) / 128)          # 104 / 128 = 0.8125
    assert s["Chat Hard"] == pytest.approx((75 + 11.5) / 146)                # 0.59247
    assert s["Safety"] == pytest.approx((81.6 + 250) / 386)                  # 0.85907
    # math-prm counts as much as the six code subsets together (984), not its own 447 examples
    assert s["Reasoning"] == pytest.approx((0.5 * 984 + 0.75 * 984) / 1968)  # 0.625
    assert s["RewardBench"] == pytest.approx((0.8125 + 86.5 / 146 + 331.6 / 386 + 0.625) / 4)  # 0.72229
    assert overall({"RewardBench": 0.8, "PPE Preference": 0.6, "PPE Correctness": 0.6, "RMB": 0.7}) == \
        pytest.approx(0.675)
    assert overall({"RewardBench": 0.8}) is None


def test_roc_auc_and_bootstrap():
    # positives 0.9, 0.4; negatives 0.1, 0.4: pairs (0.9>0.1) (0.9>0.4) (0.4>0.1) (0.4=0.4 half) -> 3.5 / 4
    assert roc_auc([0.9, 0.4, 0.1, 0.4], [1, 1, 0, 0]) == 0.875
    with pytest.raises(ValueError, match="both labels"):
        roc_auc([0.1], [1])
    est = bootstrap([1, 0, 1, 1, 0, 1, 1, 1])
    assert est.n == 8 and est.value == 0.75 and est.low <= 0.75 <= est.high and est.high - est.low > 0.2


def test_spct_eval_writes_the_table_and_resumes_from_its_judgments(tmp_path: Path):
    from conftest import ScriptedJudge

    from spct.eval.run import run

    judge = ScriptedJudge()
    results = run(["rmb", "realmistake"], judge, [1, 2, 4], DATA, tmp_path, limit=3)
    rmb_rows = results["benchmarks"]["rmb"]
    assert set(rmb_rows) == {"greedy", "voting@1", "voting@2", "voting@4"}
    assert rmb_rows["greedy"]["n"] == 12 and len(rmb_rows["greedy"]["subsets"]) == 4  # 3 per part
    # the scripted judge gives every response 2 (none says 'right'): ties, broken at random
    assert 0.0 <= rmb_rows["voting@4"]["score"] <= 1.0
    assert results["benchmarks"]["realmistake"]["greedy"]["metric"] == "ROC-AUC"
    assert (tmp_path / "results.md").read_text().startswith("| model | strategy | rmb | realmistake |")
    assert (tmp_path / "results.png").stat().st_size > 0
    calls = len(judge.calls)
    again = run(["rmb", "realmistake"], judge, [1, 2, 4], DATA, tmp_path, limit=3)
    assert len(judge.calls) == calls and again["benchmarks"]["rmb"]["greedy"]["n"] == 12  # all read back


def test_hh_rlhf_and_realmistake_load_from_the_real_files():
    from spct.eval.benchmarks import hh_rlhf, realmistake

    hh = hh_rlhf.load(DATA)
    assert 2_300 <= len(hh) <= 2_312 and all(it.conversation[-1].role == "user" for it in hh[:50])
    mistakes = realmistake.load(DATA)  # read from the zip in memory, nothing written
    assert len(mistakes) == 900 and {it.rating for it in mistakes} == {0, 1}
    assert Counter(it.meta["model"] for it in mistakes) == {"gpt-4-0613": 420, "Llama-2-70b-chat-hf": 480}
