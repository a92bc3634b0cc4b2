"""The scoring path end to end: items -> shuffled prompts -> backend -> parse -> vote -> JSONL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import ScriptedJudge
from typer.testing import CliRunner

from spct import GRM, Item
from spct.cli import app
from spct.grm import MINIATURE_MODEL


def test_votes_map_back_to_the_original_order():
    judge = ScriptedJudge()
    grm = GRM(backend=judge, seed=3, per_order=1)  # the paper's: every draw its own order and prompt
    j = grm.score("q?", ["wrong", "no", "right", "nope"], k=6)
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

    grm = GRM(backend=Spy(), principles=["Refuse to rank insults."], per_order=1)
    items = [Item(id=str(i), query=f"q{i}", responses=["x"] * i + ["right"]) for i in range(1, 6)]
    judgments = list(grm.score_items(items, k=2, batch_size=2))
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
    result = CliRunner().invoke(app, [*args, "--show"])
    assert result.exit_code == 2, result.output
    assert "in.jsonl:3 (id 'bad'): field 'responses': Field required" in result.output
    assert "Voted rewards" in result.output and "Sample 3" in result.output
    judgments = [json.loads(line) for line in out.read_text().splitlines()]
    assert [j["id"] for j in judgments] == ["i0", "i1"]
    # an untrained model writes no score block: every sample fails, with its reason counted
    assert all(len(j["samples"]) == 3 and j["n_failed"] + j["n_valid"] == 3 for j in judgments)
    assert sum(j["failures"].get("truncated", 0) + j["failures"].get("no_box", 0) for j in judgments) == 6 - sum(
        j["n_valid"] for j in judgments
    )

    items.write_text("\n".join(json.dumps(g) for g in good) + "\n")
    result = CliRunner().invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "1 judged, 2 already done" in result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["i0", "i1", "i2"]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cli_dtype_sets_the_hf_backends_weights(tiny_model_dir, tmp_path, monkeypatch, dtype):
    from spct.backends.hf import HFBackend

    loaded = []
    init = HFBackend.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        loaded.append(self.model.dtype)

    monkeypatch.setattr(HFBackend, "__init__", recorded)
    items = tmp_path / "in.jsonl"
    items.write_text(json.dumps({"id": "i", "query": "q", "responses": ["a", "b"]}) + "\n")
    args = ["score", str(items), "-o", str(tmp_path / "out.jsonl"), "--model", str(tiny_model_dir)]
    result = CliRunner().invoke(app, [*args, "--max-new-tokens", "4", "--dtype", dtype])
    assert result.exit_code == 0, result.output
    assert [str(d) for d in loaded] == [f"torch.{dtype}"]
    result = CliRunner().invoke(app, [*args, "--dtype", "fp32"])
    assert result.exit_code == 2 and "choose one of auto, float32" in result.output and len(loaded) == 1


def test_template_defaults_to_the_models_own(tmp_path):
    assert GRM(backend=ScriptedJudge()).template.name == "pointwise"  # any model spct did not train
    (tmp_path / "spct.json").write_text(
        json.dumps({"templates": {"template": "compact", "binary_template": "compact-binary"}})
    )
    judge = ScriptedJudge()
    judge.model_id = str(tmp_path)
    assert GRM(backend=judge).template.name == "compact"
    assert GRM(backend=judge, template="pointwise").template.name == "pointwise"
    one, two = Item(id="1", query="q", responses=["a"]), Item(id="2", query="q", responses=["a", "b"])
    # a model trained on the binary single-response variant gets it for n = 1; others score 1..10 always
    assert [GRM(backend=judge).template_for(it).name for it in (one, two)] == ["compact-binary", "compact"]
    assert [GRM(backend=ScriptedJudge()).template_for(it).name for it in (one, two)] == ["pointwise", "pointwise"]
    assert GRM(backend=judge, template="compact").template_for(one).name == "compact"


@pytest.mark.slow
def test_cli_adaptive_strategy_with_cache_and_prefix_sharing(tmp_path):
    """The miniature through every scaling option; a rerun on the cache writes the same judgments."""
    cache, outs = tmp_path / "cache.sqlite", [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for out in outs:
        args = [
            "score",
            "examples/items.jsonl",
            "-o",
            str(out),
            "-k",
            "8",
            "--strategy",
            "adaptive",
            "--per-order",
            "2",
            "--cache",
            str(cache),
            "--max-new-tokens",
            "160",
            "--model",
            MINIATURE_MODEL,
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    first, second = ([json.loads(line) for line in out.read_text().splitlines()] for out in outs)
    assert first == second and len(first) == len(Path("examples/items.jsonl").read_text().splitlines())
    for j in first:
        assert j["strategy"] == "adaptive" and j["k"] == 8 and j["samples_used"] in (4, 8)
        assert [s["order"] for s in j["samples"][::2]] == [s["order"] for s in j["samples"][1::2]]  # 2 per order
    bad = CliRunner().invoke(
        app, ["score", "examples/items.jsonl", "-o", str(outs[0]), "--model", MINIATURE_MODEL, "--strategy", "best"]
    )
    message = " ".join(re.sub(r"[│╭╮╰╯─]", " ", bad.output).split())  # rich draws a box around it
    assert bad.exit_code == 2 and "choose one of greedy, voting, meta, adaptive" in message
