"""The miniature pipeline end to end at toy scale, and the shipped default model."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from spct import GRM
from spct.grm import MINIATURE_MODEL
from spct.miniature.teacher import TeacherNoise
from spct.miniature.tokenizer import tiny_causal_lm
from spct.miniature.world import generate
from spct.train.warm_start import sft_examples
from spct.train.warm_start_config import MINIATURE_TEMPLATES, MiniatureConfig


def test_sft_examples_are_reproducible_and_end_with_the_teacher():
    items = generate(20, "train", 0)
    a, b = (sft_examples(items, 0, TeacherNoise(), MINIATURE_TEMPLATES) for _ in range(2))
    assert a == b and a != sft_examples(items, 1, TeacherNoise(), MINIATURE_TEMPLATES)
    assert all(ex["messages"][-1]["role"] == "assistant" and "\\boxed{" in ex["messages"][-1]["content"] for ex in a)
    single = [ex for ex, it in zip(a, items, strict=True) if len(it.responses) == 1]
    assert single and all("score 1 if correct, 0 if not" in ex["messages"][0]["content"] for ex in single)


@pytest.mark.slow
def test_toy_build_trains_and_evaluates(tmp_path):
    from typer.testing import CliRunner

    from spct.cli import app

    out = tmp_path / "mini"
    sizes = ["--train-items", "24", "--vocab-size", "600", "--hidden-size", "32", "--num-layers", "1"]
    sizes += ["--num-heads", "2", "--batch-size", "8"]
    config = tmp_path / "build.yaml"  # the nested field, through a config file; flags win over it
    config.write_text("teacher_noise: {wrong_check: 0.2, invert: 0.0, misweight: 0.1}\nepochs: 3\n")
    built = CliRunner().invoke(
        app, ["miniature", "build", "--config", str(config), "--out", str(out), *sizes, "--epochs", "1"]
    )
    assert built.exit_code == 0, built.output
    cfg = MiniatureConfig()  # the defaults the flags left alone
    card = json.loads((out / "spct_build.json").read_text())
    assert card["train_examples"] == 24 and card["config"]["hidden_size"] == 32
    assert card["config"]["teacher_noise"] == {"wrong_check": 0.2, "invert": 0.0, "misweight": 0.1}
    assert card["config"]["epochs"] == 1.0
    assert GRM(str(out)).template.name == "compact"  # the checkpoint names its own template
    trained = AutoModelForCausalLM.from_pretrained(out)
    torch.manual_seed(cfg.seed)
    from transformers import AutoTokenizer

    init = tiny_causal_lm(
        AutoTokenizer.from_pretrained(out),
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        max_position_embeddings=cfg.max_length,
    )
    assert not torch.equal(trained.model.layers[0].mlp.up_proj.weight, init.model.layers[0].mlp.up_proj.weight)

    # `spct eval miniature`: strict accuracy and a table per family, from judgments a rerun reads back
    from spct.backends.base import load_backend
    from spct.eval.report import write_table
    from spct.eval.run import run

    engine = load_backend("hf", str(out))
    flags = {"model": str(out), "limit": 1, "ties": "strict", "subset_tables": True}
    results = run(["miniature"], engine, [1, 2], tmp_path, tmp_path / "eval", **flags)
    rows = results["benchmarks"]["miniature"]
    families = {it.meta["family"] for it in generate(400, "test", 0)}
    assert set(rows) == {"greedy", "voting@1", "voting@2"} and set(rows["greedy"]["subsets"]) == families
    judged = [json.loads(line)["judgments"]["greedy"] for line in (tmp_path / "eval" / "results.jsonl").open()]
    assert rows["greedy"]["n"] == len(families) == len(judged)
    assert rows["greedy"]["parsed"] == sum(j["n_valid"] for j in judged) / len(judged)  # one sample each
    assert "miniature by subset:" in (tmp_path / "eval" / "results.md").read_text()
    # meta-RM voting from the same judgments (any sequence classifier: here the toy GRM under a new head)
    with_meta = run(["miniature"], engine, [1, 2], tmp_path, tmp_path / "eval", meta_rm=str(out), **flags)
    meta_rows = with_meta["benchmarks"]["miniature"]
    assert {s: r for s, r in meta_rows.items() if s != "meta@2"} == rows and meta_rows["meta@2"]["n"] == len(families)
    write_table([results, with_meta], tmp_path / "both.md", subsets=True)  # what `spct report --table` writes
    table = (tmp_path / "both.md").read_text()
    assert table.count("| mini | greedy |") == 4 and "| mini | meta@2 |" in table  # main table and by family


@pytest.mark.slow
def test_shipped_model_judges_a_held_out_item_in_format():
    item = next(it for it in generate(50, "test", 7) if len(it.responses) == 2)
    judgment = GRM(MINIATURE_MODEL, max_new_tokens=256).score_batch([item])[0]
    sample = judgment.samples[0]
    assert sample.ok, sample.text
    assert sample.principles and "Response" in sample.critique
    assert len(judgment.rewards) == 2
