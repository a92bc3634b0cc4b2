"""The real-text training set and the format cold start on it, on the benchmark files themselves."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from helpers import DATA

from spct.backends.hf import HFBackend
from spct.core.items import Item, query_text
from spct.core.parse import parse_judgment
from spct.eval.benchmarks import gsm8k, realmistake, rewardbench
from spct.eval.reasoning import is_right
from spct.grm import COMPACT_TEMPLATES, GRM, MINIATURE_MODEL
from spct.train.cold_start import label_judgment, rule_judgment
from spct.train.data import training_items
from spct.train.real_data import build
from spct.train.stage import ship


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("data")
    stats = build(
        DATA, MINIATURE_MODEL, out, templates=COMPACT_TEMPLATES, max_prompt_tokens=700, miniature_items=200, limit=40
    )
    return out, stats


def split(out: Path, name: str) -> list[Item]:
    return [Item.model_validate_json(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]


def test_splits_share_no_query_and_never_hold_a_held_out_one(built):
    out, _ = built
    queries = {name: {query_text(it) for it in split(out, name)} for name in ("train", "validation", "test")}
    assert all(queries.values())
    assert not queries["train"] & queries["validation"] and not queries["train"] & queries["test"]
    assert not queries["validation"] & queries["test"]
    held_out = {
        query_text(it) for it in rewardbench.load_llmbar(DATA) + rewardbench.load_hep(DATA) + realmistake.load(DATA)
    }
    assert not held_out & set().union(*queries.values())


def test_every_source_is_there_and_long_prompts_are_counted_not_cut(built):
    out, stats = built
    items = [it for name in ("train", "validation", "test") for it in split(out, name)]
    assert {it.meta["source"] for it in items} == {"rmb", "hh-rlhf", "gsm8k", "math500", "mbpp", "miniature"}
    assert sum(stats["kept"].values()) == len(items)
    assert stats["too long (left out)"], "RMB has prompts over 700 tokens"
    grm = GRM(MINIATURE_MODEL, template="compact")
    longest = max(
        len(
            grm.backend.tokenizer.apply_chat_template(
                grm.template_for(it).render(it, [0, 1]), add_generation_prompt=True
            )
        )
        for it in items
        if it.meta["source"] == "rmb" and len(it.responses) == 2
    )
    assert longest <= 700


def test_a_stage_draws_its_items_across_sources_and_a_larger_draw_extends_a_smaller(built):
    """`spct data build` writes a split source by source: a stage's `--items N` must not be the
    first source's N items, and growing N must keep the items already sampled (resume)."""
    out, _ = built
    path = str(out / "train.jsonl")
    sources = [it.meta["source"] for it in split(out, "train")]
    assert sum(a != b for a, b in itertools.pairwise(sources)) == len(set(sources)) - 1  # grouped
    drawn = training_items(path, 30, seed=2)
    assert len({it.meta["source"] for it in drawn}) >= 3
    assert [it.id for it in training_items(path, 60, seed=2)[:30]] == [it.id for it in drawn]
    assert [it.id for it in training_items(path, 30, seed=3)] != [it.id for it in drawn]


def test_verifiable_items_are_labelled_by_checking_the_answer(built):
    out, _ = built
    problems = {p.query: p for p in gsm8k.load(DATA)}
    gsm = [it for name in ("train", "validation", "test") for it in split(out, name) if it.meta["source"] == "gsm8k"]
    assert any(it.best is not None for it in gsm) and any(it.rating is not None for it in gsm)
    for it in gsm:
        truth = [i == it.best for i in range(2)] if it.best is not None else [it.rating == 1]
        assert [is_right(problems[it.query], r) for r in it.responses] == truth


def test_the_rule_judgment_parses_and_singles_out_the_right_response(built):
    out, _ = built
    import random

    for it in [it for it in split(out, "train") if it.meta["source"] in ("gsm8k", "math500", "mbpp")]:
        order = list(range(len(it.responses)))[::-1]
        sample = parse_judgment(
            rule_judgment(it, order, random.Random(0)), len(order), score_range=(0, 1) if len(order) == 1 else (1, 10)
        )
        assert sample.scores is not None, sample.failure
        if it.best is None:
            assert sample.scores == [it.rating]
        else:
            shown_best = order.index(it.best)
            assert max(sample.scores) == sample.scores[shown_best] > min(sample.scores)


def test_the_label_judgment_parses_and_scores_the_labelled_best_alone_on_top(built):
    out, _ = built
    import random

    labelled = [it for it in split(out, "train") if it.meta["source"] in ("rmb", "hh-rlhf")]
    assert {it.meta["source"] for it in labelled} == {"rmb", "hh-rlhf"}
    for it in labelled:
        order = list(range(len(it.responses)))[::-1]
        text = label_judgment(it, order, random.Random(0))
        sample = parse_judgment(text, len(order))
        assert sample.scores is not None, sample.failure
        shown_best = order.index(it.best)
        assert sorted(sample.scores)[-2] < sample.scores[shown_best] == max(sample.scores)
        assert text.splitlines()[-3] == f"Response {shown_best + 1} is the best."  # the verdict the scores agree with


@pytest.mark.slow
def test_lora_sft_on_rule_judgments_changes_every_trainable_parameter(built, tmp_path):
    from peft import LoraConfig, get_peft_model

    from spct.grm import Templates
    from spct.train.cold_start import examples
    from spct.train.sft import sft
    from spct.train.stage import load_trainable

    out, _ = built
    model, tokenizer, _ = load_trainable(MINIATURE_MODEL, lora_r=0, bf16=False)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert before and all("lora_" in n for n in before)
    items = [it for it in split(out, "train") if it.meta["source"] in ("gsm8k", "miniature")][:8]
    sft(
        model,
        tokenizer,
        examples(items, Templates.named(COMPACT_TEMPLATES), 0),
        workdir=tmp_path,
        epochs=3,
        batch_size=4,
        learning_rate=1e-3,
        seed=0,
    )
    unchanged = [n for n, p in model.named_parameters() if n in before and torch.equal(p, before[n])]
    assert not unchanged


@pytest.mark.slow
def test_the_cold_start_writes_an_adapter_that_names_its_base_and_loads_as_a_grm(built, tmp_path):
    from spct.train.cold_start import run
    from spct.train.cold_start_config import ColdStartConfig

    out, _ = built
    cfg = ColdStartConfig(
        model=MINIATURE_MODEL,
        data=str(out),
        out=str(tmp_path / "cs"),
        verifiable_items=6,
        miniature_items=2,
        preference_items=2,
        batch_size=4,
        gradient_accumulation_steps=1,  # 3 steps: the first is the warmup's, at learning rate 0
        lora_r=4,
        bf16=False,
    )
    model = run(cfg)
    adapter = json.loads((model / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == MINIATURE_MODEL and adapter["r"] == 4
    assert json.loads((model / "spct.json").read_text())["templates"] == COMPACT_TEMPLATES
    card = json.loads((model / "cold_start.json").read_text())
    per_source = card["examples per source"]
    assert card["examples"] == 10 and per_source["miniature"] == 2 and card["log"]
    assert per_source.get("rmb", 0) + per_source.get("hh-rlhf", 0) == 2
    grm = GRM(str(model), max_new_tokens=16)
    assert grm.template.name == "compact"
    assert grm.score("What is 47 + 38?", ["85", "75"]).samples[0].n_tokens  # the merged adapter generates
    shipped = ship(model, tmp_path / "shipped")
    assert sorted(p.name for p in shipped.iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "cold_start.json",
        "spct.json",
    ]
    from safetensors.torch import load_file

    fp32, fp16 = load_file(model / "adapter_model.safetensors"), load_file(shipped / "adapter_model.safetensors")
    assert fp32.keys() == fp16.keys() and all(v.dtype == torch.float16 for v in fp16.values())
    assert any(v.abs().max() > 0 for v in fp16.values())  # B starts at zero; trained, it is not
    ids = grm.backend.tokenizer("Judge: 47 + 38 = 85 or 75?", return_tensors="pt").input_ids
    trained, fp16_logits, base = [  # in fp32: the fp16 file against the trained weights, not bf16 rounding
        HFBackend(str(m), dtype="float32").model(ids).logits for m in (model, shipped, MINIATURE_MODEL)
    ]
    assert (trained - fp16_logits).abs().max() < 1e-3 < (trained - base).abs().max()
    listing = sorted(p.name for p in shipped.iterdir())
    assert ship(shipped, shipped, (shipped / "cold_start.json",)) == shipped  # in place: its cards are kept
    assert sorted(p.name for p in shipped.iterdir()) == listing
    with pytest.raises(ValueError, match="not an adapter folder"):
        ship(MINIATURE_MODEL, tmp_path / "no")
