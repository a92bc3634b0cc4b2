"""Helpers the tests share (pytest discourages importing conftest): a scripted judge, a served
app, the benchmark files, a checkpoint's weights."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file

from spct.backends import Completion, Sampling
from spct.backends.local_server import free_port
from spct.core import Principle, format_judgment

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # the real public benchmark files

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


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(path / "model.safetensors")
