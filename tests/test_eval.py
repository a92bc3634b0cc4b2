"""Benchmark loaders on the real public files in ../shared/data, and the paper's metrics on
hand-checked numbers (RewardBench's section weighting as reward-bench publishes it)."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from helpers import DATA, RESPONSE, ScriptedJudge

from spct.backends.base import Completion
from spct.core.items import Item
from spct.core.parse import format_judgment
from spct.eval.benchmarks import Benchmark, MissingField, mean_of_subsets, rewardbench, rmb
from spct.eval.metrics import (
    Paired,
    auc_bootstrap,
    bootstrap,
    outcome,
    overall,
    paired_difference,
    roc_auc,
    section_scores,
)
from spct.grm import PAPER_TEMPLATES


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
            json.dumps([{"input": "q", "output_1": "a", "output_2": "b"}])
        )
    with pytest.raises(MissingField, match=r"Natural/dataset.json record 0: field 'label' is missing"):
        rewardbench.load_llmbar(tmp_path)


def test_the_published_rewardbench_format_loads(tmp_path: Path):
    frame = pd.DataFrame(
        {
            "prompt": ["p1", "p2"],
            "chosen": ["good", "fine"],
            "rejected": ["bad", "poor"],
            "subset": ["alpacaeval-easy", "donotanswer"],
            "id": [3, 4],
        }
    )
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
    accuracy = {
        "alpacaeval-easy": 0.9,
        "mt-bench-easy": 0.5,  # Chat
        "llmbar-natural": 0.75,
        "llmbar-adver-manual": 0.25,  # Chat Hard
        "donotanswer": 0.6,
        "xstest-should-respond": 1.0,  # Safety
        "math-prm": 0.5,
        **{f"hep-{lang}": 0.75 for lang in rewardbench.HEP},
    }  # Reasoning
    counts = {
        "alpacaeval-easy": 100,
        "mt-bench-easy": 28,
        "llmbar-natural": 100,
        "llmbar-adver-manual": 46,
        "donotanswer": 136,
        "xstest-should-respond": 250,
        "math-prm": 447,
        **{f"hep-{lang}": 164 for lang in rewardbench.HEP},
    }
    s = section_scores(accuracy, counts)
    assert s["Chat"] == pytest.approx((0.9 * 100 + 0.5 * 28) / 128)  # 104 / 128 = 0.8125
    assert s["Chat Hard"] == pytest.approx((75 + 11.5) / 146)  # 0.59247
    assert s["Safety"] == pytest.approx((81.6 + 250) / 386)  # 0.85907
    # math-prm counts as much as the six code subsets together (984), not its own 447 examples
    assert s["Reasoning"] == pytest.approx((0.5 * 984 + 0.75 * 984) / 1968)  # 0.625
    assert s["RewardBench"] == pytest.approx((0.8125 + 86.5 / 146 + 331.6 / 386 + 0.625) / 4)  # 0.72229
    assert overall({"RewardBench": 0.8, "PPE Preference": 0.6, "PPE Correctness": 0.6, "RMB": 0.7}) == pytest.approx(
        0.675
    )
    assert overall({"RewardBench": 0.8}) is None


def test_roc_auc_and_bootstrap():
    # positives 0.9, 0.4; negatives 0.1, 0.4: pairs (0.9>0.1) (0.9>0.4) (0.4>0.1) (0.4=0.4 half) -> 3.5 / 4
    assert roc_auc([0.9, 0.4, 0.1, 0.4], [1, 1, 0, 0]) == 0.875
    with pytest.raises(ValueError, match="both labels"):
        roc_auc([0.1], [1])
    est = bootstrap([1, 0, 1, 1, 0, 1, 1, 1])
    assert est.n == 8 and est.value == 0.75 and est.low <= 0.75 <= est.high and est.high - est.low > 0.2


def test_roc_auc_agrees_with_counting_pairs_and_has_an_interval_over_items():
    rng = random.Random(1)
    scores = [rng.choice([float("-inf"), 1, 2, 3, 5, 8]) for _ in range(60)]
    labels = [rng.random() < 0.4 for _ in scores]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pairs = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))
    assert roc_auc(scores, labels) == pytest.approx(pairs)
    est = auc_bootstrap([scores], labels)
    assert est.value == pytest.approx(pairs) and est.n == 60 and est.low < pairs < est.high
    # two draws: the value is their mean, and the interval spans the draws as well as the items
    flipped = [-s for s in scores]
    both = auc_bootstrap([scores, flipped], labels)
    assert both.value == pytest.approx(0.5) and both.low < 1 - pairs and both.high > pairs


def test_a_paired_difference_is_clear_of_zero_where_the_separate_intervals_overlap():
    """Another strategy right on 12 more of 100 items and wrong on none more: each strategy's own
    interval overlaps the other's, the paired one holds only gains."""
    rng = random.Random(0)
    reference = [float(rng.random() < 0.5) for _ in range(100)]
    wrong = [i for i, v in enumerate(reference) if v == 0][:12]
    other = [1.0 if i in wrong else v for i, v in enumerate(reference)]
    alone, better = bootstrap(reference), bootstrap(other)
    assert better.low < alone.high  # apart, the intervals overlap
    est = paired_difference([Paired([reference], [other])])
    assert est.value == pytest.approx(0.12) and est.n == 100 and 0 < est.low < 0.12 < est.high
    # ROC-AUC: the same scores under both give zero, and over two benchmarks the mean of the two
    scores, labels = [rng.random() for _ in range(40)], [i % 2 for i in range(40)]
    same = paired_difference([Paired([scores], [scores], labels)])
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    both = paired_difference([Paired([reference], [other]), Paired([scores], [scores], labels)])
    assert both.value == pytest.approx(0.06) and both.n == 140 and both.low > 0


def test_spct_eval_writes_the_table_and_resumes_from_its_judgments(tmp_path: Path):
    from spct.eval.run import run

    judge = ScriptedJudge()
    results = run(["rmb", "realmistake"], judge, [1, 2, 4], DATA, tmp_path, model="scripted", limit=3)
    rmb_rows = results["benchmarks"]["rmb"]
    assert set(rmb_rows) == {"greedy", "voting@1", "voting@2", "voting@4"}
    assert rmb_rows["greedy"]["n"] == 12 and len(rmb_rows["greedy"]["subsets"]) == 4  # 3 per part
    assert rmb_rows["greedy"]["parsed"] == rmb_rows["voting@2"]["parsed"] == 1.0  # every scripted sample parses
    assert "samples that parsed (greedy): rmb 100.0%, realmistake 100.0%" in (tmp_path / "results.md").read_text()
    assert results["benchmarks"]["realmistake"]["greedy"]["metric"] == "ROC-AUC"
    assert (tmp_path / "results.md").read_text().startswith("| model | strategy | rmb | realmistake |")
    assert (tmp_path / "results.png").stat().st_size > 0
    calls = len(judge.calls)
    again = run(["rmb", "realmistake"], judge, [1, 2, 4], DATA, tmp_path, model="scripted", limit=3)
    assert len(judge.calls) == calls and again["benchmarks"]["rmb"]["greedy"]["n"] == 12  # all read back
    # the scripted judge gives every response 2 (none says 'right'): every item ties at the top,
    # which counts as wrong under the training rule, and as a coin under the paper's
    strict = run(["rmb"], judge, [1, 2, 4], DATA, tmp_path / "strict", model="scripted", limit=3, ties="strict")
    assert {s: r["score"] for s, r in strict["benchmarks"]["rmb"].items()} == dict.fromkeys(rmb_rows, 0.0)
    # ...and every lone ReaLMistake response scores the same: no ranking at all, an AUC of one half
    assert results["benchmarks"]["realmistake"]["greedy"]["score"] == 0.5
    # every strategy beyond greedy: its paired difference from greedy per benchmark, and their mean
    assert results["benchmarks"]["realmistake"]["voting@4"]["vs greedy"] == {"difference": 0.0, "low": 0.0, "high": 0.0}
    per_bench = [results["benchmarks"][b]["voting@4"]["vs greedy"]["difference"] for b in ("rmb", "realmistake")]
    assert results["vs greedy"]["voting@4"]["difference"] == pytest.approx(sum(per_bench) / 2)
    assert (
        "- scripted, voting@4 minus greedy on the same items (paired 95% interval): rmb "
        in (tmp_path / "results.md").read_text()
    )


def test_items_of_an_earlier_run_judges_exactly_its_items(tmp_path: Path):
    from spct.eval.run import run

    first = run(["rmb", "realmistake"], ScriptedJudge(), [1], DATA, tmp_path / "a", model="scripted", limit=2)
    second = run(
        ["rmb", "realmistake"], ScriptedJudge(), [1], DATA, tmp_path / "b", model="other", limit=None,
        items_of=tmp_path / "a" / "results.jsonl",
    )  # fmt: skip
    ids = [[(r["benchmark"], r["id"]) for r in map(json.loads, (tmp_path / d / "results.jsonl").open())] for d in "ab"]
    assert sorted(ids[0]) == sorted(ids[1]) and len(ids[1]) == 8 + 12  # 2 per subset: 4 of RMB, 6 of ReaLMistake
    assert second["benchmarks"]["rmb"]["greedy"]["n"] == first["benchmarks"]["rmb"]["greedy"]["n"] == 8
    with pytest.raises(ValueError, match="no hh-rlhf item"):
        run(["hh-rlhf"], ScriptedJudge(), [1], DATA, tmp_path / "c", model="x", limit=None,
            items_of=tmp_path / "a" / "results.jsonl")  # fmt: skip


def one_to_ten(_: Item) -> tuple[int, int]:
    return (1, 10)


def _counted(items: list[Item], aggregate=None):
    return Benchmark("counted", lambda root: items, **({"aggregate": aggregate} if aggregate else {}))


COUNTED = [  # the scripted judge gives 'right' 10 and every other response 2
    Item(id="p1", query="q1", responses=["right", "bad"], best=0, meta={"subset": "a"}),  # right
    Item(id="p2", query="q2", responses=["bad", "right"], best=0, meta={"subset": "a"}),  # wrong
    Item(id="p3", query="q3", responses=["right", "right"], best=1, meta={"subset": "a"}),  # a tie
    Item(id="b1", query="q4", responses=["bad", "bad", "right"], best=2, meta={"subset": "b"}),  # right
]


@pytest.mark.parametrize(
    ("ties", "aggregate", "score", "subset_a"),
    [
        ("strict", None, 2 / 4, 1 / 3),  # the tie is wrong: 2 of 4 items
        ("strict", mean_of_subsets, (1 / 3 + 1) / 2, 1 / 3),  # a: 1 of 3, b: 1 of 1
        ("random", None, 3 / 4, 2 / 3),  # the tie's seeded coin picks response 1 (checked below)
    ],
)
def test_eval_metrics_match_counts_made_by_hand(tmp_path: Path, monkeypatch, ties, aggregate, score, subset_a):
    from spct.eval import run as eval_run

    monkeypatch.setitem(eval_run.BENCHMARKS, "counted", _counted(COUNTED, aggregate))
    results = eval_run.run(["counted"], ScriptedJudge(), [1], DATA, tmp_path, model="s", limit=None, ties=ties)
    greedy = results["benchmarks"]["counted"]["greedy"]
    assert greedy["n"] == 4 and greedy["score"] == pytest.approx(score)
    assert greedy["subsets"] == pytest.approx({"a": subset_a, "b": 1.0})
    if ties == "random":
        assert random.Random(0).choice([0, 1]) == 1  # the coin the tie at p3 was broken by


def test_a_lone_response_among_pairs_is_right_when_its_score_rounds_to_the_rating(tmp_path: Path, monkeypatch):
    from spct.eval import run as eval_run

    lone = [
        Item(id="r1", query="q", responses=["right"], rating=1, meta={"subset": "one"}),  # scored 1: right
        Item(id="r0", query="q", responses=["bad"], rating=1, meta={"subset": "one"}),  # scored 0: wrong
        Item(id="r2", query="q", responses=["bad"], rating=0, meta={"subset": "one"}),  # scored 0: right
    ]

    (tmp_path / "judge").mkdir()  # a model whose card names the binary template for lone responses
    (tmp_path / "judge" / "spct.json").write_text(
        json.dumps({"templates": PAPER_TEMPLATES | {"binary_template": "binary"}})
    )

    class Judge:  # 'right' gets the top of the template's scale (10, or 1 on the binary 0-1 one)
        model_id = str(tmp_path / "judge")

        def generate(self, prompts, sampling):
            out = []
            for p in prompts:
                shown = RESPONSE.findall(p[0]["content"])
                top, low = (10, 2) if len(shown) > 1 else (1, 0)
                text = format_judgment([], "c", [top if r == "right" else low for r in shown])
                out.append([Completion(text, "stop", n_tokens=5)] * sampling.n)
            return out

    monkeypatch.setitem(eval_run.BENCHMARKS, "counted", _counted(COUNTED[:1] + lone))
    results = eval_run.run(["counted"], Judge(), [1], DATA, tmp_path / "run", model="s", limit=None, ties="strict")
    greedy = results["benchmarks"]["counted"]["greedy"]
    assert greedy["parsed"] == 1.0 and greedy["subsets"] == pytest.approx({"a": 1.0, "one": 2 / 3})


def test_hh_rlhf_and_realmistake_load_from_the_real_files():
    from spct.eval.benchmarks import hh_rlhf, realmistake

    hh = hh_rlhf.load(DATA)
    assert 2_300 <= len(hh) <= 2_312 and all(it.conversation[-1].role == "user" for it in hh[:50])
    mistakes = realmistake.load(DATA)  # read from the zip in memory, nothing written
    assert len(mistakes) == 900 and {it.rating for it in mistakes} == {0, 1}
    assert Counter(it.meta["model"] for it in mistakes) == {"gpt-4-0613": 420, "Llama-2-70b-chat-hf": 480}


def test_ppe_loads_its_published_formats(tmp_path: Path):
    """PPE is not in ../shared/data: files written in the hub's columns, one per supported format."""
    from spct.eval.benchmarks import ppe

    pref = tmp_path / "ppe" / "preference"
    pref.mkdir(parents=True)
    pd.DataFrame(
        {
            "question_id": ["q1", "q2", "q3", "q4"],
            "prompt": ["p1", "p2", "p3", "p4"],
            "response_1": ["a1", "a2", "a3", "a4"],
            "response_2": ["b1", "b2", "b3", "b4"],
            "winner": ["model_a", "model_b", "tie", "tie (bothbad)"],
            "language": ["English"] * 4,
        }
    ).to_parquet(pref / "test-00000-of-00001.parquet")
    items = ppe.load_preference(tmp_path)
    assert [it.id for it in items] == ["ppe-pref-q1", "ppe-pref-q2"]  # ties have no right answer
    assert [it.responses[it.best] for it in items] == ["a1", "b2"]
    row = {
        "question_id": 7,
        "model_name": "gpt",
        "prompt": "2+2?",
        "response_1": "4",
        "response_2": "5",
        "response_3": "four",
        "scores": [True, False, True],
        "sampled_conflict_pairs": [[0, 1], [1, 2]],
    }
    writers = {
        "mmlu-pro": lambda d: pd.DataFrame([row]).to_parquet(d / "train.parquet"),
        "math": lambda d: (d / "train.jsonl").write_text(json.dumps(row) + "\n"),
        "gpqa": lambda d: (d / "train.json").write_text(json.dumps([row])),
        "mbpp-plus": lambda d: (
            pd.DataFrame([row])
            .assign(scores=json.dumps(row["scores"]), sampled_conflict_pairs=json.dumps([[0, 1], [1, 2]]))
            .to_csv(d / "train.csv", index=False)
        ),
        "ifeval": lambda d: pd.DataFrame([row]).to_json(d / "train.jsonl.gz", orient="records", lines=True),
    }
    for source, write in writers.items():
        (tmp_path / "ppe" / source).mkdir()
        write(tmp_path / "ppe" / source)
    items = ppe.load_correctness(tmp_path)
    assert Counter(it.meta["subset"] for it in items) == dict.fromkeys(ppe.CORRECTNESS_HUB, 2)
    assert {(it.responses[it.best], it.responses[1 - it.best]) for it in items} == {("4", "5"), ("four", "5")}
    bad = dict(row, scores=[True, True, True])
    (tmp_path / "ppe" / "math" / "train.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(ValueError, match=r"math/train.jsonl record 0: conflict pair \[0, 1\] has equal scores"):
        ppe.load_correctness(tmp_path)
    (tmp_path / "ppe" / "math" / "train.jsonl").write_text(json.dumps({k: v for k, v in row.items() if k != "scores"}))
    with pytest.raises(MissingField, match="field 'scores' is missing"):
        ppe.load_correctness(tmp_path)


def test_without_files_the_hub_is_asked_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import datasets

    from spct.eval.benchmarks import ppe

    asked = []

    def hub(name: str, split: str):
        asked.append((name, split))
        if name != ppe.PREFERENCE_HUB:
            raise ConnectionError("no network")
        return datasets.Dataset.from_list(
            [
                {
                    "question_id": "h1",
                    "prompt": [{"role": "user", "content": "hi"}],
                    "response_1": "x",
                    "response_2": "y",
                    "winner": "model_b",
                }
            ]
        )

    monkeypatch.setattr(datasets, "load_dataset", hub)
    items = ppe.load_preference(tmp_path)
    assert asked == [(ppe.PREFERENCE_HUB, "test")] and items[0].responses[items[0].best] == "y"
    assert items[0].conversation[-1].content == "hi"
    with pytest.raises(
        FileNotFoundError,
        match=r"ppe/mmlu-pro does not exist and the hub dataset "
        r"lmarena-ai/PPE-MMLU-Pro-Best-of-K \(split train\) could not be loaded",
    ):
        ppe.load_correctness(tmp_path)


def test_overall_and_baselines_share_the_table(tmp_path: Path):
    from spct.eval.report import write_table

    def rows(score):
        return {"n": 10, "low": score - 0.1, "high": score + 0.1, "score": score}

    grm = {
        "model": "runs/grm",
        "benchmarks": {
            "rewardbench": {"greedy": {**rows(0.8), "sections": {"Chat Hard": 0.8}}},
            "rmb": {"greedy": rows(0.6)},
        },
        "overall": {"greedy": 0.7},
    }
    bt = {"model": "runs/bt", "benchmarks": {"rmb": {"scalar": rows(0.5)}}, "overall": {}}
    write_table([grm, bt], tmp_path / "t.md")
    lines = (tmp_path / "t.md").read_text().splitlines()
    assert lines[0] == "| model | strategy | rewardbench | rmb | Overall |"
    assert lines[2] == "| grm | greedy | 80.0 [70.0, 90.0] (n=10) | 60.0 [50.0, 70.0] (n=10) | 70.0 |"
    assert lines[3] == "| bt | scalar | - | 50.0 [40.0, 60.0] (n=10) | - |"
    assert lines[5] == "- grm: RewardBench from its sections Chat Hard only"
    from spct.eval.run import _overall

    four = {
        n: {"greedy": {"score": v}, "voting@8": {"score": v + 0.1}}
        for n, v in zip(["rewardbench", "ppe-preference", "ppe-correctness", "rmb"], [0.8, 0.6, 0.5, 0.7], strict=True)
    }
    assert _overall(four) == pytest.approx({"greedy": 0.65, "voting@8": 0.75})
    assert _overall({n: four[n] for n in ["rewardbench", "rmb"]}) == {}  # the paper's Overall needs all four


@pytest.mark.parametrize(("trusted", "separation", "meta_accuracy"), [("right", 1.0, 1.0), ("wrong", 0.0, 0.0)])
def test_meta_rows_report_whether_the_meta_rm_tells_right_samples_from_wrong(
    tmp_path: Path, trusted, separation, meta_accuracy
):
    """Each item has one right, one wrong and one failed sample, so voting@3 is a tie; meta@3 keeps
    the one the meta RM scores higher, and its ROC-AUC says whether that was the right one."""
    from spct.core.items import Sample
    from spct.core.vote import vote
    from spct.eval.report import write_table
    from spct.eval.run import grm_rows

    items = [Item(id=f"i{n}", query="q", responses=["a", "b"], best=n % 2, meta={"subset": "s"}) for n in range(4)]
    sampled = {}
    for it in items:
        right = Sample(order=[0, 1], text="", scores=[9 if i == it.best else 2 for i in range(2)])
        wrong = Sample(order=[0, 1], text="", scores=[2 if i == it.best else 9 for i in range(2)])
        right.meta_score, wrong.meta_score = (1.0, 0.0) if trusted == "right" else (0.0, 1.0)
        sampled[it.id] = vote(it.id, 2, [right, wrong, Sample(order=[0, 1], text="", failure="no_box")])
    bench = _counted(items)
    rows, _ = grm_rows(bench, items, sampled, sampled, [3], meta=True, seed=0, score_range=one_to_ten, ties="strict")
    assert rows["voting@3"]["score"] == 0.0  # 11 against 11: a tie, wrong under the strict rule
    assert rows["meta@3"]["score"] == meta_accuracy and rows["meta@3"]["meta RM ROC-AUC"] == separation
    assert "meta RM ROC-AUC" not in rows["voting@3"]
    write_table([{"model": "m", "benchmarks": {"counted": rows}}], tmp_path / "results.md")
    assert (
        f"meta RM ROC-AUC for a right sample (0.5: no better than chance): counted {separation:.2f}"
        in (tmp_path / "results.md").read_text()
    )


def test_adaptive_rows_replay_the_first_draws_and_say_what_stopping_early_cost(tmp_path: Path):
    """Each item's first four draws back the labelled best by 9 to 2 and its last four the other
    response: voting@8 is a tie (wrong under the strict rule), while adaptive voting, certain enough
    of the lead after one round of four, stops there and is right, with half the samples."""
    from spct.core.items import Sample
    from spct.core.vote import vote
    from spct.eval.report import write_table
    from spct.eval.run import grm_rows

    items = [Item(id=f"i{n}", query="q", responses=["a", "b"], best=n % 2, meta={"subset": "s"}) for n in range(4)]
    sampled = {}
    for it in items:
        right = Sample(order=[0, 1], text="", scores=[9 if i == it.best else 2 for i in range(2)])
        wrong = Sample(order=[0, 1], text="", scores=[2 if i == it.best else 9 for i in range(2)])
        sampled[it.id] = vote(it.id, 2, [right] * 4 + [wrong] * 4)
    rows, paired = grm_rows(
        _counted(items), items, sampled, sampled, [1, 4, 8], meta=False, seed=0, score_range=one_to_ten, ties="strict"
    )
    assert "adaptive@4" not in rows  # one round is the whole budget: nothing to stop early
    assert rows["voting@8"]["score"] == 0.0 and rows["adaptive@8"]["score"] == 1.0
    assert rows["adaptive@8"]["samples per item"] == 4
    assert rows["adaptive@8"]["same verdict as its 8 draws"] == 0.0  # all eight: a tie, no verdict
    assert rows["adaptive@8"]["vs voting@8"]["difference"] == 1.0
    assert rows["adaptive@8"]["vs greedy"]["difference"] == 1.0 and "adaptive@8" in paired  # "greedy" is the tie here
    write_table([{"model": "m", "benchmarks": {"counted": rows}}], tmp_path / "results.md")
    assert (
        "adaptive@8 (rounds of 4, confidence 0.8) minus voting@8 on the same items (paired 95% interval): "
        "counted 4.0 samples per item (50%), the verdict of all 8 draws on 0% of the items, +100.0 [+100.0, +100.0]"
    ) in (tmp_path / "results.md").read_text()


def test_voting_figures_do_not_depend_on_the_order_of_the_items():
    """Each item draws its k-subsets (and breaks its ties) from a generator of its own, so a run
    read back in another order, or beside other items, gives the same voting@k."""
    import random as rnd

    from spct.core.items import Sample
    from spct.core.vote import vote
    from spct.eval.run import _auc_row, _means_at, grm_rows

    draw = rnd.Random(0)
    pairs = [Item(id=f"p{n}", query="q", responses=["a", "b"], best=n % 2, meta={"subset": "s"}) for n in range(20)]
    lone = [Item(id=f"r{n}", query="q", responses=["a"], rating=n % 2) for n in range(20)]
    sampled = {}
    for it in pairs + lone:
        n = len(it.responses)
        scores = [[draw.randint(1, 10) for _ in range(n)] for _ in range(6)]
        sampled[it.id] = vote(it.id, n, [Sample(order=list(range(n)), text="", scores=s) for s in scores])
    forward, _ = grm_rows(_counted(pairs), pairs, sampled, sampled, [2, 3], meta=False, seed=0, score_range=one_to_ten)
    backward, _ = grm_rows(
        _counted(pairs[::-1]), pairs[::-1], sampled, sampled, [2, 3], meta=False, seed=0, score_range=one_to_ten
    )
    assert 0 < forward["voting@2"]["score"] < 1
    assert {k: r["score"] for k, r in forward.items()} == pytest.approx({k: r["score"] for k, r in backward.items()})

    def auc(items):  # voting@2's ROC-AUC, as the ROC-AUC rows compute it
        return _auc_row(_means_at(items, sampled, 2, 0), [it.rating for it in items], 0)["score"]

    assert auc(lone) == pytest.approx(auc(lone[::-1]))


class Unfinished(ScriptedJudge):
    """Every second sampled completion stops before its scores, as at the token limit."""

    sampled = 0

    def generate(self, prompts, sampling):
        out = super().generate(prompts, sampling)
        if sampling.temperature == 0:
            return out
        cut = []
        for completions in out:
            cut.append([])
            for c in completions:
                self.sampled += 1
                cut[-1].append(c if self.sampled % 2 else Completion(c.text.split("Scores:")[0], "length", c.n_tokens))
        return cut


def test_report_gives_a_model_one_row_over_its_runs_and_both_parse_rates(tmp_path: Path):
    from spct.eval.report import write_table
    from spct.eval.run import combine, run

    held = run(["realmistake"], Unfinished(), [1, 2], DATA, tmp_path / "held", model="m", limit=2)
    inside = run(["rmb"], ScriptedJudge(), [1], DATA, tmp_path / "in", model="m", limit=2)
    other = run(["rmb"], ScriptedJudge(), [1], DATA, tmp_path / "other", model="m", limit=3)  # rmb again: apart
    runs = combine([held, inside, other])
    assert [sorted(r["benchmarks"]) for r in runs] == [["realmistake", "rmb"], ["rmb"]]
    assert runs[1]["benchmarks"]["rmb"]["greedy"]["n"] == 12 and held["benchmarks"].keys() == {"realmistake"}
    write_table(runs, tmp_path / "t.md")
    table = (tmp_path / "t.md").read_text()
    assert table.startswith("| model | strategy | realmistake | rmb |")
    assert sum(line.startswith("| m | greedy |") for line in table.splitlines()) == 2
    assert "m, samples that parsed (greedy): realmistake 100.0%, rmb 100.0%" in table
    assert "m, samples that parsed (sampled): realmistake 50.0%" in table  # every second sample cut
