"""The openai backend against a real OpenAI-compatible server: `transformers serve` on the tiny model.

That server ignores `n` (one choice per request), so these tests exercise the fan-out path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai.resources.chat.completions import AsyncCompletions

from spct.backends import BackendError, Sampling, load_backend
from spct.backends.local_server import free_port, transformers_serve
from spct.backends.openai import OpenAIBackend

PROMPTS = [[{"role": "user", "content": f"Is answer {i} clear?"}] for i in range(6)]
SAMPLING = Sampling(n=3, temperature=1.0, max_new_tokens=8, seed=1)


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path) -> Iterator[str]:
    """Base URL of a `transformers serve` process pinned to the tiny model, stopped after the module."""
    with transformers_serve(tiny_model_dir) as base_url:
        yield base_url


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Spy on chat-completion requests: the `n` of each and the most in flight at once."""
    seen = {"n": [], "in_flight": 0, "max_in_flight": 0}
    create = AsyncCompletions.create

    async def spy(self, **kwargs):
        seen["n"].append(kwargs["n"])
        seen["in_flight"] += 1
        seen["max_in_flight"] = max(seen["max_in_flight"], seen["in_flight"])
        try:
            return await create(self, **kwargs)
        finally:
            seen["in_flight"] -= 1

    monkeypatch.setattr(AsyncCompletions, "create", spy)
    return seen


@pytest.mark.slow
def test_n_samples_fanned_out_when_the_server_ignores_n(server: str, tiny_model_dir: Path, calls: dict):
    backend = load_backend("openai", str(tiny_model_dir), base_url=server)
    out = backend.generate(PROMPTS[:2], SAMPLING)
    assert [len(c) for c in out] == [3, 3]
    for completions in out:
        assert len({c.text for c in completions}) == 3  # distinct seeds, not copies
        assert all(c.finish_reason in ("stop", "length") and 1 <= c.n_tokens <= 8 for c in completions)
    assert backend.ignores_n and sorted(calls["n"]) == [1, 1, 1, 1, 3, 3]

    calls["n"].clear()  # once learnt, every sample is its own request from the start
    assert [len(c) for c in backend.generate(PROMPTS[:2], SAMPLING)] == [3, 3]
    assert calls["n"] == [1] * 6


@pytest.mark.slow
def test_concurrency_is_bounded(server: str, tiny_model_dir: Path, calls: dict):
    backend = OpenAIBackend(str(tiny_model_dir), base_url=server, max_concurrency=2)
    out = backend.generate(PROMPTS, Sampling(n=1, temperature=1.0, max_new_tokens=8))
    assert [len(c) for c in out] == [1] * 6 and all(c[0].text for c in out)
    assert len(calls["n"]) == 6 and calls["max_in_flight"] == 2


@pytest.mark.slow
def test_agenerate_inside_an_event_loop(server: str, tiny_model_dir: Path):
    backend = OpenAIBackend(str(tiny_model_dir), base_url=server)

    async def main():
        with pytest.raises(RuntimeError, match="agenerate"):
            backend.generate(PROMPTS[:1], SAMPLING)
        return await backend.agenerate(PROMPTS[:1], SAMPLING)

    assert [len(c) for c in asyncio.run(main())] == [3]


def test_closed_port_raises_backend_error_naming_the_url():
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    backend = OpenAIBackend("tiny", base_url=base_url, max_retries=0, timeout=2.0)
    with pytest.raises(BackendError, match=re.escape(base_url)):
        backend.generate(PROMPTS[:1], SAMPLING)


@pytest.mark.slow
def test_grm_votes_over_a_served_model(server: str, tiny_model_dir: Path, calls: dict):
    """The scoring path through a real server: k prompts of one single-response item are identical,
    so each request must carry its own seed for the k samples to differ."""
    from spct import GRM

    grm = GRM(str(tiny_model_dir), backend="openai", base_url=server, max_new_tokens=8, seed=5)
    judgment = grm.score("Is the answer clear?", ["yes"], k=3)
    assert len(judgment.samples) == 3
    assert len(calls["n"]) >= 3
    assert len({s.text for s in judgment.samples}) > 1
