"""The scoring path end to end: items -> shuffled prompts -> backend -> parse -> vote -> JSONL."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from spct import GRM, Item
from spct.backends import Completion, Sampling
from spct.cli import app
from spct.core import Principle, format_judgment

RESPONSE = re.compile(r"\[The Begin of Response \d+\]\n(.*?)\n\[The End of Response \d+\]", re.S)


class ScriptedJudge:
    """A backend that reads the responses from the real prompt and scores the one saying 'right'
    10, the others 2, in the shown order: only a correct unshuffle makes 'right' win the vote."""

    model_id = "scripted"

    def __init__(self) -> None:
        self.calls: list[tuple[int, Sampling]] = []

    def generate(self, prompts, sampling):
        self.calls.append((len(prompts), sampling))
        out = []
        for p in prompts:
            shown = RESPONSE.findall(p[0]["content"])
            scores = [10 if r == "right" else 2 for r in shown]
            text = format_judgment([Principle(text="Says right", weight=100)], "checked", scores)
            out.append([Completion(text, "stop")] * sampling.n)
        return out


def test_votes_map_back_to_the_original_order():
    judge = ScriptedJudge()
    grm = GRM(backend=judge, seed=3)
    j = grm.score("q?", ["wrong", "no", "right", "nope"], samples=6)
    assert j.rewards == [12, 12, 60, 12] and j.best == 2 and j.n_valid == 6
    assert len({tuple(s.order) for s in j.samples}) > 1  # the samples saw different orders
    assert judge.calls[0][0] == 6 and judge.calls[0][1].temperature == 0.5
    assert grm.score("q?", ["right", "x"]).strategy == "greedy"
    assert judge.calls[1][1].temperature == 0.0


def test_batches_keep_items_apart_and_user_principles_reach_the_prompt():
    seen = []

    class Spy(ScriptedJudge):
        def generate(self, prompts, sampling):
            seen.extend(p[0]["content"] for p in prompts)
            return super().generate(prompts, sampling)

    grm = GRM(backend=Spy(), principles=["Refuse to rank insults."])
    items = [Item(id=str(i), query=f"q{i}", responses=["x"] * i + ["right"]) for i in range(1, 6)]
    judgments = list(grm.score_items(items, samples=2, batch_size=2))
    assert [j.id for j in judgments] == [it.id for it in items]
    assert all(j.best == len(j.rewards) - 1 for j in judgments)
    assert len(seen) == 10 and all("- Refuse to rank insults." in s for s in seen)


@pytest.mark.slow
def test_cli_scores_resumes_and_reports_bad_lines(tiny_model_dir, tmp_path):
    items = tmp_path / "in.jsonl"
    good = [{"id": f"i{i}", "query": f"Is {i} even?", "responses": ["yes", "no"], "best": i % 2} for i in range(3)]
    items.write_text("\n".join([json.dumps(good[0]), json.dumps(good[1]), '{"id": "bad", "query": "q"}']) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["score", str(items), "-o", str(out), "--model", str(tiny_model_dir), "-k", "3", "--max-new-tokens", "6"]
    result = CliRunner().invoke(app, args + ["--show"])
    assert result.exit_code == 2, result.output
    assert "in.jsonl:3 (id 'bad'): field 'responses': Field required" in result.output
    assert "Voted rewards" in result.output and "Sample 3" in result.output
    judgments = [json.loads(line) for line in out.read_text().splitlines()]
    assert [j["id"] for j in judgments] == ["i0", "i1"]
    # an untrained model writes no score block: every sample fails, with its reason counted
    assert all(len(j["samples"]) == 3 and j["n_failed"] + j["n_valid"] == 3 for j in judgments)
    assert sum(j["failures"].get("truncated", 0) + j["failures"].get("no_box", 0) for j in judgments) == 6 - sum(
        j["n_valid"] for j in judgments)

    items.write_text("\n".join(json.dumps(g) for g in good) + "\n")
    result = CliRunner().invoke(app, args + ["--resume"])
    assert result.exit_code == 0, result.output
    assert "1 judged, 2 already done" in result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["i0", "i1", "i2"]


def test_template_defaults_to_the_models_own(tmp_path):
    assert GRM(backend=ScriptedJudge()).template.name == "pointwise"  # any model spct did not train
    (tmp_path / "spct.json").write_text(json.dumps({"templates": {"template": "compact", "binary_template": "compact-binary"}}))
    judge = ScriptedJudge()
    judge.model_id = str(tmp_path)
    assert GRM(backend=judge).template.name == "compact"
    assert GRM(backend=judge, template="pointwise").template.name == "pointwise"
