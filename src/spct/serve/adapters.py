"""A GRM as the reward of RL trainers, in process or through a running `spct serve`.

TRL (docs/method.md §8): completions come in groups of `num_generations` per prompt, and one GRM call
judges a whole group as ONE multi-response item, so the completions are compared with each other
under principles written once for that prompt:

    from spct.serve.adapters import GRMReward
    GRPOTrainer(model, reward_funcs=[GRMReward()], ...)                       # the embedded GRM, in process
    GRPOTrainer(model, reward_funcs=[GRMReward(url="http://rm:8000", token="...")], ...)   # spct serve

verl (`custom_reward_function.path` = this file, `name` = `compute_score`): the prompt is read from
`extra_info["question"]` (or `["prompt"]`), the response is judged alone; set `SPCT_URL` (and
`SPCT_TOKEN`) to use a server, otherwise the GRM named by `SPCT_MODEL` (default: the embedded one)
is loaded in the worker process, with `SPCT_PRINCIPLE_MODE` and `SPCT_PRINCIPLES` (one per line).

Principle mode "query" (`GRMReward(GRM(principle_mode="query"))`, or `spct serve --principle-mode
query`) writes a prompt's principles once from the prompt alone and caches them, so every group
of completions of that prompt, at every step, is judged by the same principles, which the
completions cannot steer (docs/principles.md).

A reward is a response's mean valid score mapped to [0, 1] (`core.vote.normalised_rewards`). A
completion whose judgment has no valid sample (every sample failed to parse) is unjudged: it gets
`failed`, by default None, which TRL's GRPOTrainer treats as missing (left out of its group's
baseline, advantage 0), never a silent 0; `GRMReward.unjudged` counts them. verl needs a number:
`compute_score` returns `SPCT_FAILED_REWARD` (default 0.0) there, with `valid` 0 in its extra info.
"""

from __future__ import annotations

import asyncio
import os
from itertools import groupby

import httpx

from spct.core.items import Item, Judgment
from spct.core.vote import normalised_rewards
from spct.grm import DEFAULT_MODEL, GRM


def _text(completion: str | list[dict]) -> str:
    """TRL passes plain text, or for conversational data the generated messages."""
    return completion if isinstance(completion, str) else completion[-1]["content"]


def _key(prompt: str | list[dict]) -> str:
    return prompt if isinstance(prompt, str) else repr(prompt)


class GRMReward:
    """An async reward function for TRL's GRPOTrainer (and any caller with that signature)."""

    __name__ = "grm"  # TRL logs rewards under this name

    def __init__(
        self,
        grm: GRM | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        k: int = 1,
        strategy: str | None = None,
        timeout: float = 600.0,
        failed: float | None = None,
    ):
        """`url` of a running `spct serve`, or `grm` in process (default: the embedded GRM).
        `failed`: the reward of an unjudged completion (None: missing, for TRL)."""
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.grm = None if url else (grm or GRM())
        self.k = k
        self.strategy = strategy
        self.timeout = timeout
        self.failed = failed
        self.unjudged = 0  # completions so far whose judgment had no valid sample

    async def __call__(self, prompts: list, completions: list, **_: object) -> list[float | None]:
        """One reward per completion; consecutive completions of the same prompt form one item."""
        items = []
        for i, (_, group) in enumerate(groupby(zip(prompts, completions, strict=True), key=lambda pc: _key(pc[0]))):
            group = list(group)
            items.append(Item(id=str(i), query=group[0][0], responses=[_text(c) for _, c in group]))
        rewards = await (self._remote(items) if self.url else self._local(items))
        out: list[float | None] = []
        for it, group in zip(items, rewards, strict=True):
            if group is None:
                self.unjudged += len(it.responses)
                out += [self.failed] * len(it.responses)
            else:
                out += group
        return out

    async def _local(self, items: list[Item]) -> list[list[float] | None]:
        judgments: list[Judgment] = await asyncio.to_thread(self.grm.score_batch, items, self.k, self.strategy)
        return [
            normalised_rewards(j, self.grm.template_for(it).score_range) for j, it in zip(judgments, items, strict=True)
        ]

    async def _remote(self, items: list[Item]) -> list[list[float] | None]:
        body = {
            "items": [it.model_dump(mode="json", include={"id", "query", "responses"}) for it in items],
            "k": self.k,
            "strategy": self.strategy,
        }
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(f"{self.url.rstrip('/')}/v1/score", json=body, headers=self.headers)
            response.raise_for_status()
        return [
            normalised_rewards(
                Judgment.model_validate({**r, "n_responses": len(it.responses), "samples": []}), tuple(r["score_range"])
            )
            for it, r in zip(items, response.json()["results"], strict=True)
        ]


_VERL: GRMReward | None = None


def compute_score(
    data_source: str, solution_str: str, ground_truth: object, extra_info: dict | None = None
) -> dict[str, float]:
    """verl's custom reward function: the GRM's normalised score of the solution, judged alone, as
    verl's dict form ({"score", and extra info it logs}): `valid` is 0 for an unjudged solution,
    whose score is then `SPCT_FAILED_REWARD`."""
    global _VERL
    prompt = (extra_info or {}).get("question") or (extra_info or {}).get("prompt")
    if not prompt:
        raise ValueError(f"{data_source}: extra_info needs the prompt as 'question' or 'prompt' to judge a solution")
    if _VERL is None:
        url = os.environ.get("SPCT_URL")
        grm = None
        if not url:
            principles = os.environ.get("SPCT_PRINCIPLES", "").splitlines()
            mode = os.environ.get("SPCT_PRINCIPLE_MODE", "generated")
            grm = GRM(os.environ.get("SPCT_MODEL", DEFAULT_MODEL), principles=principles, principle_mode=mode)
        failed = float(os.environ.get("SPCT_FAILED_REWARD", "0"))
        _VERL = GRMReward(grm, url=url, token=os.environ.get("SPCT_TOKEN"), failed=failed)
    unjudged = _VERL.unjudged
    (score,) = asyncio.run(_VERL([prompt], [solution_str]))
    assert score is not None  # failed is a number here
    return {"score": score, "valid": float(_VERL.unjudged == unjudged)}
