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
is loaded in the worker process.

A reward is a response's mean valid score mapped to [0, 1] (`core.vote.normalised_rewards`); a
group whose judgments all fail to parse gets 0 for every completion.
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
        samples: int = 1,
        strategy: str | None = None,
        timeout: float = 600.0,
    ):
        """`url` of a running `spct serve`, or `grm` in process (default: the embedded GRM)."""
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.grm = None if url else (grm or GRM())
        self.samples = samples
        self.strategy = strategy
        self.timeout = timeout

    async def __call__(self, prompts: list, completions: list, **_: object) -> list[float]:
        """One float per completion; consecutive completions of the same prompt form one item."""
        items = []
        for i, (_, group) in enumerate(groupby(zip(prompts, completions, strict=True), key=lambda pc: _key(pc[0]))):
            group = list(group)
            items.append(Item(id=str(i), query=group[0][0], responses=[_text(c) for _, c in group]))
        rewards = await (self._remote(items) if self.url else self._local(items))
        return [r for group in rewards for r in group]

    async def _local(self, items: list[Item]) -> list[list[float]]:
        judgments: list[Judgment] = await asyncio.to_thread(self.grm.score_batch, items, self.samples, self.strategy)
        return [
            normalised_rewards(j, self.grm.template_for(it).score_range) for j, it in zip(judgments, items, strict=True)
        ]

    async def _remote(self, items: list[Item]) -> list[list[float]]:
        body = {
            "items": [it.model_dump(mode="json", include={"id", "query", "responses"}) for it in items],
            "samples": self.samples,
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


def compute_score(data_source: str, solution_str: str, ground_truth: object, extra_info: dict | None = None) -> float:
    """verl's custom reward function: the GRM's normalised score of the solution, judged alone."""
    global _VERL
    prompt = (extra_info or {}).get("question") or (extra_info or {}).get("prompt")
    if not prompt:
        raise ValueError(f"{data_source}: extra_info needs the prompt as 'question' or 'prompt' to judge a solution")
    if _VERL is None:
        url = os.environ.get("SPCT_URL")
        grm = None if url else GRM(os.environ.get("SPCT_MODEL", DEFAULT_MODEL))
        _VERL = GRMReward(grm, url=url, token=os.environ.get("SPCT_TOKEN"))
    return asyncio.run(_VERL([prompt], [solution_str]))[0]
