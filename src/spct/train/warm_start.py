"""Build the miniature GRM from nothing: world data -> teacher judgments -> tokenizer -> warm start.

    spct miniature build                       # the miniature fixture, into src/spct/models/miniature-grm
    spct miniature build --out runs/mini --train-items 400 --epochs 1    # a quick look
    spct miniature build --init src/spct/models/miniature-grm --seed 1   # more training, fresh items

Every step is seeded; the same config rebuilds the same data, tokenizer and (up to CPU float
non-determinism) weights. Training is TRL's SFTTrainer, loss on the judgment only.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from spct.core.items import Item
from spct.core.vote import sample_orders
from spct.grm import Templates
from spct.miniature.teacher import TeacherNoise, teacher_judgment
from spct.miniature.world import generate
from spct.train.cards import write_cards
from spct.train.warm_start_config import MiniatureConfig


def sft_examples(items: list[Item], seed: int, noise: TeacherNoise, templates: dict[str, str]) -> list[dict]:
    """One teacher judgment per item, responses in a seeded random order, as chat messages."""
    rng = random.Random(seed)
    pick = Templates.named(templates)  # the binary variant for one response, as the GRM will prompt it
    examples = []
    for item in items:
        order = sample_orders(len(item.responses), 1, seed, item.id)[0]
        prompt = pick(item).render(item, order)
        judgment = teacher_judgment(item, order, rng, noise)
        examples.append({"messages": [*prompt, {"role": "assistant", "content": judgment}]})
    return examples


def run(cfg: MiniatureConfig) -> Path:
    """Write tokenizer + model + data card to cfg.out and return it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spct.backends.hf import device_name
    from spct.miniature.tokenizer import tiny_causal_lm, train_tokenizer
    from spct.train.sft import sft

    start = time.monotonic()
    out = Path(cfg.out)
    workdir = Path(tempfile.mkdtemp(prefix="spct-miniature-"))  # the trainer's scratch, not shipped
    items = generate(cfg.train_items, "train", cfg.seed)
    examples = sft_examples(items, cfg.seed, cfg.teacher_noise, cfg.templates)
    torch.manual_seed(cfg.seed)
    if cfg.init:
        tokenizer = AutoTokenizer.from_pretrained(cfg.init)
        model = AutoModelForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
    else:
        tokenizer = train_tokenizer(
            (m["content"] for ex in examples for m in ex["messages"]), vocab_size=cfg.vocab_size
        )
        model = tiny_causal_lm(
            tokenizer,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            max_position_embeddings=cfg.max_length,
        )
    trainer = sft(
        model,
        tokenizer,
        examples,
        workdir=workdir,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
        max_length=cfg.max_length,
    )
    model.save_pretrained(out)  # fp32: bf16 inference is as slow as bf16 training here
    tokenizer.save_pretrained(out)
    card = {
        "config": asdict(cfg),
        "train_examples": len(examples),
        "parameters": model.num_parameters(),
        "device": device_name(),
        "seconds": round(time.monotonic() - start),
        "log": [r for r in trainer.state.log_history if "loss" in r],
    }
    if cfg.init and (Path(cfg.init) / "spct_build.json").is_file():  # the lineage: how the start was built
        card["init_card"] = json.loads((Path(cfg.init) / "spct_build.json").read_text())
    write_cards(out, "spct_build.json", card, cfg.templates)
    return out
