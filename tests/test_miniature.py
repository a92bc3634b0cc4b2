"""The miniature pipeline end to end at toy scale, and the shipped default model."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from spct import GRM
from spct.eval.miniature import compare, evaluate, write_report
from spct.grm import MINIATURE_MODEL
from spct.miniature.teacher import TeacherNoise
from spct.miniature.tokenizer import tiny_causal_lm
from spct.miniature.world import generate
from spct.train.warm_start import MINIATURE_TEMPLATES, MiniatureConfig, build, sft_examples


def test_sft_examples_are_reproducible_and_end_with_the_teacher():
    items = generate(20, "train", 0)
    a, b = (sft_examples(items, 0, TeacherNoise(), MINIATURE_TEMPLATES) for _ in range(2))
    assert a == b and a != sft_examples(items, 1, TeacherNoise(), MINIATURE_TEMPLATES)
    assert all(ex["messages"][-1]["role"] == "assistant" and "\\boxed{" in ex["messages"][-1]["content"] for ex in a)
    single = [ex for ex, it in zip(a, items, strict=True) if len(it.responses) == 1]
    assert single and all("score 1 if correct, 0 if not" in ex["messages"][0]["content"] for ex in single)


@pytest.mark.slow
def test_toy_build_trains_and_evaluates(tmp_path):
    cfg = MiniatureConfig(
        out=str(tmp_path / "mini"),
        train_items=24,
        vocab_size=600,
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        batch_size=8,
    )
    out = build(cfg)
    card = json.loads((out / "spct_build.json").read_text())
    assert card["train_examples"] == 24 and card["config"]["hidden_size"] == 32
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

    rows, _ = evaluate(str(out), items=6, k=2, run_dir=str(tmp_path / "eval"))
    overall = next(r for r in rows if r["family"] == "all")
    assert overall["items"] == 6 and set(overall) >= {"parse greedy", "greedy", "vote@1", "vote@2"}
    write_report(rows, tmp_path / "mini.md", model=str(out), k=2, seconds=1.0)
    assert "| family | n | items |" in (tmp_path / "mini.md").read_text() and (tmp_path / "mini.png").stat().st_size > 0
    # a rerun reads the judgments back instead of judging again
    assert evaluate(str(out), items=6, k=2, run_dir=str(tmp_path / "eval"))[0] == rows

    # meta-RM voting from the same judgments (any sequence classifier: here the toy GRM under a new head)
    with_meta, _ = evaluate(str(out), items=6, k=2, run_dir=str(tmp_path / "eval"), meta_rm=str(out))
    for plain, meta in zip(rows, with_meta, strict=True):
        assert {c: v for c, v in meta.items() if not c.startswith("meta@")} == plain and 0 <= meta["meta@2"] <= 1
    table = compare({"toy": tmp_path / "eval", "toy again": tmp_path / "eval"}, tmp_path / "results.md", k=2)
    assert [r["stage"] for r in table] == ["toy", "toy again"] and table[0]["meta@2"] == with_meta[0]["meta@2"]
    assert "| toy again |" in (tmp_path / "results.md").read_text() and (tmp_path / "results.png").stat().st_size > 0


@pytest.mark.slow
def test_shipped_model_judges_a_held_out_item_in_format():
    item = next(it for it in generate(50, "test", 7) if len(it.responses) == 2)
    judgment = GRM(MINIATURE_MODEL, max_new_tokens=256).score_batch([item])[0]
    sample = judgment.samples[0]
    assert sample.ok, sample.text
    assert sample.principles and "Response" in sample.critique
    assert len(judgment.rewards) == 2
