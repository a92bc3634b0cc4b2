"""Shared fixtures: a tiny model trained from nothing, so that no test needs the Hub."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from spct.backends import Completion, Sampling
from spct.backends.local_server import free_port
from spct.core import Principle, format_judgment
from spct.miniature.tokenizer import tiny_causal_lm, train_tokenizer

RESPONSE = re.compile(r"\[The Begin of Response \d+\]\n(.*?)\n\[The End of Response \d+\]", re.S)


class ScriptedJudge:
    """A backend that reads the responses from the real prompt and scores the one saying 'right'
    10, the others 2, in the shown order: only a correct unshuffle makes 'right' win the vote.
    With `error` > 0, that share of completions (seeded) gives 10 to the first shown response
    that is not 'right' instead, so that votes need several samples. `good` replaces the test for
    'right' (a response it accepts gets 10)."""

    model_id = "scripted"

    def __init__(self, error: float = 0.0, seed: int = 0, good: Callable[[str], bool] | None = None) -> None:
        self.calls: list[tuple[int, Sampling]] = []
        self.error = error
        self.rng = random.Random(seed)
        self.good = good or (lambda r: r == "right")

    def generate(self, prompts, sampling):
        self.calls.append((len(prompts), sampling))
        out = []
        for p in prompts:
            shown = RESPONSE.findall(p[0]["content"])
            completions = []
            for _ in range(sampling.n):
                good = self.good
                if self.rng.random() < self.error:
                    wrong = next(r for r in shown if not self.good(r))
                    good = wrong.__eq__
                scores = [10 if good(r) else 2 for r in shown]
                text = format_judgment([Principle(text="Says right", weight=100)], "checked", scores)
                completions.append(Completion(text, "stop", n_tokens=len(text.split())))
            out.append(completions)
        return out


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


@contextmanager
def running(app) -> Iterator[str]:
    """The base URL of an ASGI `app` served by uvicorn in a thread, stopped on exit."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)
