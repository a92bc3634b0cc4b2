"""Shared fixtures: a tiny model trained from nothing, so that no test needs the Hub."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from spct.miniature.tokenizer import tiny_causal_lm, train_tokenizer

WORDS = [
    "the",
    "a",
    "response",
    "is",
    "helpful",
    "harmless",
    "accurate",
    "wrong",
    "clear",
    "vague",
    "answer",
    "user",
    "question",
    "score",
    "critique",
]


@pytest.fixture(scope="session")
def texts() -> list[str]:
    """A few hundred short judgment-like lines to train a ~500-token vocabulary on."""
    rng = random.Random(0)
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 12))) + f". Score: {rng.randint(1, 10)}" for _ in range(400)]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> Path:
    """A saved tokenizer + 2-layer Llama; do_sample is on in its generation_config, as `transformers serve` needs."""
    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = train_tokenizer(texts, vocab_size=500)
    torch.manual_seed(0)
    model = tiny_causal_lm(tokenizer, hidden_size=32, num_layers=2)
    model.generation_config.do_sample = True
    tokenizer.save_pretrained(path)
    model.save_pretrained(path)
    return path
