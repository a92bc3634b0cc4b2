"""Best-of-N (with a knockout beyond one group) and critique-guided revision, with a scripted
judge; the miniature policy's revision rule; the CLI on the embedded model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import ScriptedJudge
from typer.testing import CliRunner

from spct.cli import app
from spct.core import Item
from spct.downstream.best_of_n import best_of_n
from spct.downstream.revision import final, revise
from spct.grm import GRM, MINIATURE_MODEL
from spct.miniature.policy import ArithmeticPolicy


def test_best_of_n_runs_a_knockout_beyond_one_group():
    judge = ScriptedJudge()
    candidates = ["no", "nope", "bad", "worse", "meh", "right", "poor", "weak", "off"]
    choice = best_of_n(GRM(backend=judge), "Which is right?", candidates, group_size=2)
    # pairs of two wrong candidates tie (the judge gives both 2): the first goes on, and it is said
    assert (choice.index, choice.candidate, choice.decided) == (5, "right", False)
    # 9 -> 5 (four pairs judged, one bye) -> 3 -> 2 -> 1: 4 + 2 + 1 + 1 judgments
    assert len(choice.rounds) == 8 and choice.critique == "checked"
    one_group = best_of_n(GRM(backend=ScriptedJudge()), "q", candidates[:8])  # one group of 8
    assert one_group.index == 5 and len(one_group.rounds) == 1 and one_group.decided
    assert best_of_n(GRM(backend=ScriptedJudge()), "q", ["only"]).index == 0


def test_a_tie_keeps_the_first_tied_candidate_and_says_so():
    choice = best_of_n(GRM(backend=ScriptedJudge()), "q", ["no", "right", "right"])
    assert choice.index == 1 and not choice.decided


class Scripted:
    """A policy whose answers and revisions are given in advance, per query."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers
        self.critiques: list[str] = []
        self.calls = 0

    def answer(self, queries: Sequence[str]) -> list[str]:
        return [self.answers[q].pop(0) for q in queries]

    def revise(self, queries: Sequence[str], answers: Sequence[str], critiques: Sequence[str]) -> list[str]:
        self.calls += 1
        self.critiques += critiques
        return [self.answers[q].pop(0) for q in queries]


def test_revision_keeps_an_answer_only_when_the_grm_score_rises_and_records_every_round():
    grm = GRM(backend=ScriptedJudge())
    policy = Scripted(
        {
            "a": ["wrong", "right", "right"],  # the second revision changes nothing: stop
            "b": ["right", "wrong"],  # a revision that scores lower is recorded, not kept
            "c": ["wrong", "bad", "right"],  # as low as before: not kept, and the loop stops there
        }
    )
    a, b, c = revise(grm, policy, ["a", "b", "c"], rounds=3)
    assert [(r.answer, r.kept) for r in a] == [("wrong", True), ("right", True)]
    assert final(a) == "right" and a[1].score == 1.0 > a[0].score
    assert policy.critiques[0] == "- Says right\nchecked"  # the critique reaches the policy
    assert [(r.answer, r.kept) for r in b] == [("right", True), ("wrong", False)] and final(b) == "right"
    assert [(r.answer, r.kept) for r in c] == [("wrong", True), ("bad", False)] and final(c) == "wrong"
    assert policy.calls == 2 and policy.answers["c"] == ["right"]  # one batched call a round; c left after one


def test_the_miniature_policy_adopts_the_value_the_critique_states():
    item = Item(
        id="a",
        query="What is 6 ** 2 - 5?",
        responses=["It comes to 30."],
        rating=0,
        meta={"family": "arithmetic", "facts": {"expr": "6 ** 2 - 5"}},
    )
    policy = ArithmeticPolicy([item])
    assert policy.answer([item.query]) == ["It comes to 30."]
    stated, unstated = "6 ** 2 - 5 = 31.\nThe response says 30: wrong.", "no value stated"
    assert policy.revise([item.query] * 2, ["It comes to 30."] * 2, [stated, unstated]) == [
        "The answer is 31.",
        "It comes to 30.",
    ]


@pytest.mark.slow
def test_best_of_n_cli_on_the_miniature(tmp_path: Path):
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "best-of-n",
            "--query",
            "What is 47 + 38?",
            "--candidate",
            "It comes to 75.",
            "--candidate",
            "It comes to 85.",
            "--model",
            MINIATURE_MODEL,
        ],
    )
    assert r.exit_code == 0, r.output
    assert "critique:" in r.output
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "x", "query": "What is 2 + 3?", "responses": ["5", "6"]}) + "\n{bad\n")
    r = runner.invoke(app, ["best-of-n", str(items), "-o", str(tmp_path / "out.jsonl"), "--model", MINIATURE_MODEL])
    assert r.exit_code == 2  # the bad line is reported, the good one judged
    (chosen,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert chosen["id"] == "x" and chosen["index"] in (0, 1) and chosen["candidate"] in ("5", "6")
