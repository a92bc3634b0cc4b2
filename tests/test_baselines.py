"""The scalar baselines (Bradley-Terry and pairwise RM): the threshold rule on hand-made numbers,
then a few real optimiser steps of each on the miniature world, and their evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import weights

from spct.core import Item, Principle, format_judgment
from spct.grm import MINIATURE_MODEL
from spct.miniature.world import generate
from spct.train.baseline import correct, fit_threshold, naming_the_best, rewards, run
from spct.train.baseline_config import BaselineConfig


def test_threshold_is_the_cut_that_classifies_most_training_responses():
    # 0.1 and 0.5 are rated 0, 2.0 and 3.0 rated 1: any cut in (0.5, 2.0) is right on all four;
    # the rule takes the midpoint 1.25.
    assert fit_threshold([2.0, 0.1, 3.0, 0.5], [1, 0, 1, 0]) == 1.25
    # one rated-1 response below a rated-0 one: the best cut still misclassifies one of five
    cut = fit_threshold([0.0, 1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1, 1])
    assert sum((x > cut) == bool(r) for x, r in zip([0.0, 1.0, 2.0, 3.0, 4.0], [0, 1, 0, 1, 1], strict=True)) == 4
    assert fit_threshold([5.0, 5.0], [1, 1]) < 5.0  # all rated 1: below every logit


def test_baseline_correctness_is_the_strict_rule_and_none_where_it_cannot_judge():
    item = Item(id="a", query="q", responses=["x", "y", "z"], best=2)
    assert correct(item, [0.1, 0.2, 0.9]) is True
    assert correct(item, [0.9, 0.2, 0.9]) is False  # a tie at the top is wrong
    assert correct(item, None) is None
    assert correct(Item(id="b", query="q", responses=["x"], rating=1), [1.0]) is True


def test_the_judge_learns_the_index_of_the_best_as_it_was_shown():
    item = Item(id="a", query="q", responses=["x", "y", "z"], best=2)
    text = format_judgment([Principle(text="Right", weight=100)], "z is right.", [3, 9, 2])  # shown order [1, 2, 0]
    rewritten = naming_the_best(item, [1, 2, 0], text)
    assert rewritten.endswith("Best: \\boxed{2}") and "Scores" not in rewritten and "z is right." in rewritten


def correct_trajectories(path: Path, items: list[Item]) -> Path:
    """One accepted judgment per item, as `spct train rft` writes them (best shown last)."""
    records = []
    for it in items:
        if it.best is None:
            continue
        order = [i for i in range(len(it.responses)) if i != it.best] + [it.best]
        shown = [2] * (len(order) - 1) + [9]
        text = format_judgment([Principle(text="Correct", weight=100)], "The last one is right.", shown)
        records.append(
            {"id": it.id, "trajectories": [{"hinted": False, "order": order, "text": text, "accepted": True}]}
        )
    path.write_text("\n".join(json.dumps(r) for r in records))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bt", "pair", "judge", "cloud"])
def test_baseline_trains_a_few_steps_and_judges_the_test_split(kind: str, tmp_path: Path):
    trajectories = correct_trajectories(tmp_path / "t.jsonl", generate(10, "train", 2))  # the config's items
    cfg = BaselineConfig(
        kind=kind,
        items=10,
        out=str(tmp_path / kind),
        batch_size=4,
        epochs=1,
        learning_rate=1e-3,
        trajectories=str(trajectories),
    )
    model = run(cfg)
    trained = weights(model)
    assert ("score.weight" in trained) == (kind != "judge")
    base = weights(Path(MINIATURE_MODEL))
    assert any(not torch.equal(base[k], trained[k]) for k in base if k in trained)  # the backbone moved too
    card = json.loads((model / "baseline.json").read_text())
    assert card["kind"] == kind and card["log"]
    test = generate(8, "test", 0)
    got = rewards(str(model), test)
    if kind in ("bt", "cloud"):
        raw = dict(zip([it.id for it in test], rewards(str(model), test, ranked=True), strict=True))
    for it, r in zip(test, got, strict=True):
        if kind in ("pair", "judge") and len(it.responses) == 1:
            assert r is None
        elif kind == "judge":  # one pick, or none when it did not parse
            assert len(r) == len(it.responses) and sum(r) in (0.0, 1.0)
        elif kind == "pair":  # expected wins over all pairs: n (n - 1) / 2 in all
            assert len(r) == len(it.responses) and sum(r) == pytest.approx(len(r) * (len(r) - 1) / 2)
        elif len(it.responses) == 1:  # bt, cloud: rated by the threshold
            assert r in ([0.0], [1.0]) and "threshold" in card
            (logit,) = raw[it.id]  # what ROC-AUC ranks: the logit the threshold reads
            assert r == [float(logit > card["threshold"])]
        else:
            assert len(r) == len(it.responses)
    from spct.eval.run import run as eval_run  # `spct eval --model <baseline>`: one "scalar" row

    results = eval_run(["miniature"], None, [1], tmp_path, tmp_path / "spct-eval", model=str(model), limit=4)
    row = results["benchmarks"]["miniature"]["scalar"]
    assert row["n"] + row["unjudged"] == 16 and row["n"] > 0
    records = [json.loads(line) for line in (tmp_path / "spct-eval" / "results.jsonl").open()]
    outcomes = [r["outcomes"]["scalar"] for r in records if r["outcomes"]["scalar"] is not None]
    assert len(outcomes) == row["n"] and row["score"] == pytest.approx(sum(outcomes) / len(outcomes))
    lone = sum(len(r["responses"]) == 1 for r in records)
    assert lone and row["unjudged"] == (lone if kind in ("pair", "judge") else 0)  # only they cannot rate one
    assert "| model | strategy | miniature |" in (tmp_path / "spct-eval" / "results.md").read_text()
