"""The one protocol every backend speaks: chat prompts in, n completions per prompt out.

A backend is the only place that touches a model or a server. It is a plain object holding its
model or client, so a cache can wrap it and a Ray actor can hold one.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Messages = list[dict[str, str]]


# Set by a caller that may give up on a generation (the server, when every request of a batch
# has timed out): a backend stops as soon as it can and returns what it has (finish "length").
# A context variable, so it reaches the worker thread (`asyncio.to_thread` copies the context)
# without passing through GRM.
CANCEL: ContextVar[threading.Event | None] = ContextVar("spct_cancel", default=None)


class BackendError(RuntimeError):
    """A backend could not load its model or reach its server; the message says what to do."""


@dataclass(frozen=True)
class Sampling:
    n: int = 1
    temperature: float = 0.5
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()  # a completion ends at the first of these (kept in its text)


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None = None  # "stop" or "length" (hit max_new_tokens)
    n_tokens: int | None = None


class Backend(Protocol):
    model_id: str  # what the model is, for cache keys and records

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """sampling.n completions for each prompt, in prompt order. A prompt whose last message is
        the assistant's is continued from that text (the completion holds only what follows)."""
        ...


def continues(prompts: Sequence[Messages]) -> bool:
    """Whether the prompts continue an assistant turn (principle modes query and given prefill
    one); a call either continues every prompt or none, as one chat-template call renders them."""
    ends = {p[-1]["role"] == "assistant" for p in prompts}
    if len(ends) > 1:
        raise ValueError("prompts of one call must all end with an assistant turn to continue, or none")
    return ends == {True}


@runtime_checkable
class CountsTokens(Protocol):
    """A backend that tokenises in-process (the hf backend) and so can measure prompts against
    its model's window before generating; a server backend cannot."""

    context_length: int

    def prompt_tokens(self, prompts: Sequence[Messages]) -> list[int]: ...


# name -> "module:class"; imported on use so that the openai backend never imports torch.
BACKENDS = {
    "hf": "spct.backends.hf:HFBackend",
    "openai": "spct.backends.openai:OpenAIBackend",
}


def load_backend(name: str, model: str, **kwargs) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(model, **kwargs)
