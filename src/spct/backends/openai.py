"""Backend for any OpenAI-compatible server (vLLM, SGLang, transformers serve, llama.cpp).

Servers that ignore `n` answer with one choice; the missing samples are then requested one by one.
Sample i of prompt j is seeded `seed + j * n + i`, so that identical prompts (the k samples of a
single response all share one prompt) still get k different samples.

Faults: the openai client retries timeouts, dropped connections, 429 and 5xx with exponential
backoff (`max_retries`); a request that still fails raises a `BackendError` naming the server and
the fault, and after `circuit_after` such failures in a row the backend stops sending (the
circuit opens) so that a dead server costs one error, not the retry budget of every request left.
A choice with no content is an empty completion: a parse failure, counted, not a crash.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import openai

from spct.backends.base import BackendError, Completion, Messages, Sampling, continues
from spct.core.defaults import DEFAULT_BASE_URL

# vLLM's and SGLang's request fields for continuing the assistant's turn (`base.continues`)
CONTINUE = {"extra_body": {"continue_final_message": True, "add_generation_prompt": False}}


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        max_concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 4,
        circuit_after: int = 3,
    ):
        self.model_id = model
        self.base_url = base_url
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "EMPTY")
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.ignores_n = False  # learnt from the first answer with fewer choices than asked
        self.circuit_after = circuit_after
        self.failures_in_a_row = 0

    def _failed(self, message: str) -> BackendError:
        """Count a request that failed for good (its retries spent): after `circuit_after` in a row,
        later requests fail at once instead of each waiting through its own retries."""
        self.failures_in_a_row += 1
        return BackendError(message)

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """Synchronous wrapper for scripts; async code must await `agenerate` instead."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(prompts, sampling))
        raise RuntimeError("OpenAIBackend.generate was called inside a running event loop; await agenerate() instead")

    async def agenerate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """All prompts at once, at most max_concurrency requests in flight; the client retries with backoff."""
        # A client per call: its connection pool belongs to the event loop it was opened in.
        async with openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=self.max_retries
        ) as client:
            slots = asyncio.Semaphore(self.max_concurrency)
            return list(
                await asyncio.gather(
                    *(self._samples(client, slots, p, sampling, j * sampling.n) for j, p in enumerate(prompts))
                )
            )

    async def _samples(
        self,
        client: openai.AsyncOpenAI,
        slots: asyncio.Semaphore,
        messages: Messages,
        sampling: Sampling,
        seed_offset: int,
    ) -> list[Completion]:
        """sampling.n completions of one prompt, fanned out one by one when the server ignores n."""
        first = (
            [] if self.ignores_n else await self._request(client, slots, messages, sampling, sampling.n, seed_offset)
        )
        self.ignores_n = self.ignores_n or len(first) < sampling.n
        rest = await asyncio.gather(
            *(
                self._request(client, slots, messages, sampling, 1, seed_offset + i)
                for i in range(len(first), sampling.n)
            )
        )
        return first + [c for r in rest for c in r]

    async def _request(
        self,
        client: openai.AsyncOpenAI,
        slots: asyncio.Semaphore,
        messages: Messages,
        sampling: Sampling,
        n: int,
        seed_offset: int,
    ) -> list[Completion]:
        async with slots:
            if self.failures_in_a_row >= self.circuit_after:
                raise BackendError(
                    f"the server at {self.base_url} failed {self.failures_in_a_row} requests in a row; "
                    "not sending more (circuit open): check it, then rerun with --resume"
                )
            try:
                response = await client.chat.completions.create(
                    model=self.model_id,
                    messages=messages,
                    n=n,
                    temperature=sampling.temperature,
                    top_p=sampling.top_p,
                    max_tokens=sampling.max_new_tokens,
                    seed=None if sampling.seed is None else sampling.seed + seed_offset,
                    **({"stop": list(sampling.stop)} if sampling.stop else {}),
                    **(CONTINUE if continues([messages]) else {}),
                )
            except openai.APIConnectionError as e:  # also timeouts; raised once the retries are spent
                raise self._failed(
                    f"cannot reach the OpenAI-compatible server at {self.base_url} "
                    f"after {self.max_retries} retries ({e}); start it or pass the right base_url"
                ) from e
            except openai.APIStatusError as e:  # 429 and 5xx were retried with backoff by the client
                raise self._failed(
                    f"the server at {self.base_url} answered HTTP {e.status_code} "
                    f"(after {self.max_retries} retries where retryable): {str(e)[:200]}"
                ) from e
            except (openai.APIResponseValidationError, ValueError) as e:  # a body that is not the API's JSON
                raise self._failed(f"the server at {self.base_url} sent a malformed answer: {str(e)[:200]}") from e
        self.failures_in_a_row = 0
        choices = response.choices
        # usage counts all choices together: share it out so that the counts still sum to the total
        if response.usage is None:
            counts: list[int | None] = [None] * len(choices)
        else:
            q, r = divmod(response.usage.completion_tokens, len(choices))
            counts = [q + (i < r) for i in range(len(choices))]
        return [
            Completion(
                text=c.message.content or "",
                finish_reason=c.finish_reason if c.finish_reason in ("stop", "length") else None,
                n_tokens=count,
            )
            for c, count in zip(choices, counts, strict=True)
        ]
