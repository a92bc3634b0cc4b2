"""The HTTP reward server: a GRM behind FastAPI, judging the items of concurrent callers together.

    spct serve                                    # the embedded default GRM on 127.0.0.1:8000
    spct serve --model PATH --samples 4 --token SECRET --port 8000
    curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
        -d '{"items": [{"query": "What is 2 + 2?", "responses": ["4", "5"]}], "details": true}'

Endpoints: `POST /v1/score` (items in, rewards and best index out; principles and critiques with
`details`), `POST /get_reward` (OpenRLHF's remote reward model: one float per query), `GET /health`,
`GET /metrics` (Prometheus) and the OpenAPI schema at `/openapi.json`.

Concurrent requests meet in a micro-batcher: items that share the same options (k, strategy) and
arrive within `max_wait` seconds of each other, or while the model is busy with the previous batch,
go to the model in one `score_batch` call. One call runs at a time, in a worker thread, so that the
event loop keeps accepting requests. Every text is untrusted: pydantic
bounds the sizes, errors name the field, and a failure inside the model returns a 500 with no
stack trace (the trace goes to the log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from spct.backends.base import CANCEL, CountsTokens
from spct.core.items import Item, Judgment, Message
from spct.core.vote import normalised_rewards
from spct.grm import GRM

log = logging.getLogger("spct.serve")
ROUTES = ("/v1/score", "/get_reward", "/health", "/metrics")
Text = Annotated[str, StringConstraints(max_length=100_000)]


class BodyLimit:
    """ASGI middleware: the body is read here, counted as it arrives, and the request answered 413
    once it passes `limit` bytes, so a chunked body (no Content-Length, or one that
    Transfer-Encoding overrides) is bounded too; a body within the limit is passed on whole."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:  # before reading anything
            return await too_large(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                return await too_large(scope, receive, send)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; beyond it the server answers 413 or 422 before any work."""

    max_body_bytes: int = 4_000_000
    max_items: int = 64
    max_responses: int = 32
    max_k: int = 32
    timeout: float = 120.0  # seconds a request may wait for its judgments (504 after)


class ItemIn(BaseModel):
    id: str | None = Field(None, max_length=256, description="echoed back; default: the item's position")
    query: Text | list[Message] = Field(description="the user's text, or a conversation ending with a user turn")
    responses: list[Text] = Field(min_length=1, description="the responses to judge")


class ScoreRequest(BaseModel):
    items: list[ItemIn] = Field(min_length=1)
    k: int = Field(1, ge=1, description="sampled judgments per item (1: greedy)")
    strategy: str | None = Field(None, description="greedy, voting, meta or adaptive; default greedy for k = 1")
    details: bool = Field(False, description="return every sample's principles, critique and scores")


class SampleOut(BaseModel):
    principles: list[str]
    critique: str
    scores: list[int] | None
    failure: str | None


class ScoreOut(BaseModel):
    id: str
    rewards: list[int] | None = Field(
        description="voted scores (sum over valid samples), original order; null when no sample parsed (unjudged)"
    )
    best: int | None = Field(description="index of the unique top response; null on a tie or no valid sample")
    ties: list[int]
    n_valid: int = Field(description="samples that parsed; 0: the item is unjudged and has no reward")
    n_failed: int
    score_range: tuple[int, int] = Field(description="lowest and highest score of one sample")
    principle_mode: str = Field(description="generated, query or given (`spct serve --principle-mode`)")
    principles: list[str] = Field(description="modes query and given: the principles every sample applied")
    samples: list[SampleOut] | None = None


class ScoreResponse(BaseModel):
    model: str
    results: list[ScoreOut]


class RewardRequest(BaseModel):
    """OpenRLHF's remote reward model: `query` holds prompt + response as one text each."""

    query: list[Text] = Field(min_length=1)
    prompts: list[Text] | None = Field(None, description="the prompt part of each query, to split it off")
    labels: list[Text] | None = Field(None, description="sent by OpenRLHF; unused by a GRM")


class RewardResponse(BaseModel):
    rewards: list[float | None] = Field(
        description="normalised score in [0, 1]; for a query with no valid sample, the server's --failed-reward "
        "(null unless set)"
    )
    scores: list[float | None]
    extra_logs: dict[str, list[float]] = Field(description="valid: 1 where a sample parsed; valid_samples: how many")


@dataclass
class _Waiting:
    items: list[Item]
    future: asyncio.Future


@dataclass
class Batcher:
    """Collects the items of concurrent requests with the same options into one model call."""

    grm: GRM
    metrics: Metrics
    max_wait: float = 0.01
    max_batch: int = 32
    queues: dict[tuple, list[_Waiting]] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)
    model_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def judge(self, items: list[Item], k: int, strategy: str | None) -> list[Judgment]:
        key = (k, strategy)
        waiting = _Waiting(items, asyncio.get_running_loop().create_future())
        queue = self.queues.setdefault(key, [])
        queue.append(waiting)
        if len(queue) == 1:  # the first caller of a batch schedules it
            task = asyncio.create_task(self._run(key))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await waiting.future

    async def _run(self, key: tuple) -> None:
        deadline = time.monotonic() + self.max_wait
        while time.monotonic() < deadline and sum(len(w.items) for w in self.queues[key]) < self.max_batch:
            await asyncio.sleep(self.max_wait / 4)
        async with self.model_lock:  # one model call at a time; callers arriving meanwhile join this batch
            batch = [w for w in self.queues.pop(key) if not w.future.done()]  # a caller that timed out has gone
            if not batch:
                return
            items = [it for w in batch for it in w.items]
            self.metrics.batch_items.observe(len(items))
            cancel = threading.Event()  # set once no caller of the batch waits: the model stops, the lock frees
            for w in batch:
                w.future.add_done_callback(lambda _: all(w.future.done() for w in batch) and cancel.set())
            token = CANCEL.set(cancel)
            try:
                judgments = await asyncio.to_thread(self.grm.score_batch, items, key[0], key[1])
            except Exception as e:  # one caller's bad item must not fail the others: each alone, once
                if len(batch) == 1:  # nobody else to spare: no second try
                    if not batch[0].future.done():
                        batch[0].future.set_exception(e)
                    return
                for w in batch:
                    if not w.future.done():
                        try:
                            w.future.set_result(await asyncio.to_thread(self.grm.score_batch, w.items, *key))
                        except Exception as alone:
                            if not w.future.done():
                                w.future.set_exception(alone)
                return
            finally:
                CANCEL.reset(token)
        start = 0
        for w in batch:
            if not w.future.done():  # a caller that timed out has gone
                w.future.set_result(judgments[start : start + len(w.items)])
            start += len(w.items)


class Metrics:
    """Prometheus counters of one app (its own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("spct_requests", "HTTP requests", ["path", "status"], registry=self.registry)
        self.items = Counter("spct_items_judged", "items judged", registry=self.registry)
        self.failed_samples = Counter(
            "spct_failed_samples", "sampled judgments that did not parse", registry=self.registry
        )
        self.unjudged = Counter(
            "spct_unjudged_items",
            "items with no valid sample: no reward (or the failed reward)",
            registry=self.registry,
        )
        self.latency = Histogram("spct_request_seconds", "request latency", ["path"], registry=self.registry)
        self.batch_items = Histogram(
            "spct_batch_items", "items per model call", registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128)
        )


def _sample_out(s) -> SampleOut:
    return SampleOut(principles=[p.text for p in s.principles], critique=s.critique, scores=s.scores, failure=s.failure)


def split_query(query: str, prompt: str | None, marker: str | None) -> tuple[str, str]:
    """(prompt, response) of one OpenRLHF query: cut off the prompt it was sent with, or split at
    the last `marker` (the policy's assistant-turn marker, e.g. "<|im_start|>assistant\\n")."""
    if prompt is not None:
        if not query.startswith(prompt):
            raise ValueError("the query does not start with its prompt")
        return prompt, query[len(prompt) :]
    if marker is None:
        raise ValueError("send `prompts` with the queries, or start the server with --response-marker")
    at = query.rfind(marker)
    if at < 0:
        raise ValueError(f"no {marker!r} in the query")
    return query[:at], query[at + len(marker) :]


def create_app(
    grm: GRM,
    *,
    token: str | None = None,
    limits: Limits = Limits(),
    k: int = 1,
    response_marker: str | None = None,
    max_wait: float = 0.01,
    failed_reward: float | None = None,
) -> FastAPI:
    """The app around one GRM. `k` is the number of samples /get_reward votes; `token` protects every endpoint
    but /health; `failed_reward` is /get_reward's reward for a query with no valid sample (None:
    null, which the caller must treat as missing)."""
    # no /docs, /redoc or /openapi.json: they would answer without the token, and the schema
    # pages load scripts from public CDNs
    app = FastAPI(
        title="spct reward server",
        version="0.1.0",
        description=__doc__.split("\n\n")[0],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    metrics = Metrics()
    batcher = Batcher(grm, metrics, max_wait=max_wait)
    local = Path(grm.backend.model_id)
    model_name = local.name if local.is_dir() else grm.backend.model_id  # no install paths to callers
    bearer = HTTPBearer(auto_error=False)

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        # bytes: compare_digest refuses non-ASCII str (a stray token was a 500); the header's
        # raw bytes (ASGI decodes them as Latin-1) against the token's UTF-8
        if token is not None and (
            credentials is None or not secrets.compare_digest(credentials.credentials.encode("latin-1"), token.encode())
        ):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)  # added first: inside `observe`, which logs its 413s

    @app.middleware("http")
    async def observe(request: Request, call_next):
        """One JSON log line and the metrics per request."""
        start = time.monotonic()
        try:
            response = await call_next(request)
        except Exception:  # the trace to the log, never to the client
            log.exception("unhandled error on %s", request.url.path)
            response = JSONResponse({"detail": "internal error"}, status_code=500)
        seconds = time.monotonic() - start
        route = request.url.path if request.url.path in ROUTES else "other"  # labels from a fixed set
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(seconds)
        log.info(
            json.dumps(
                {
                    "path": request.url.path,
                    "method": request.method,
                    "status": response.status_code,
                    "ms": round(1000 * seconds, 1),
                    "client": request.client.host if request.client else None,
                }
            )
        )
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        """422 naming each field, without echoing the input back (it may hold NaN or a surrogate,
        which JSON cannot carry, and it is the caller's own text anyway)."""
        return JSONResponse(
            {"detail": [{"loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]}, status_code=422
        )

    async def judged(items: list[Item], k: int, strategy: str | None) -> list[Judgment]:
        try:
            judgments = await asyncio.wait_for(batcher.judge(items, k, strategy), limits.timeout)
        except TimeoutError:
            raise HTTPException(504, f"judging took longer than {limits.timeout:g} s") from None
        except ValueError as e:  # a bad option the GRM refused (strategy, k)
            raise HTTPException(422, str(e)) from None
        metrics.items.inc(len(items))
        metrics.failed_samples.inc(sum(j.n_failed for j in judgments))
        metrics.unjudged.inc(sum(j.n_valid == 0 for j in judgments))
        return judgments

    def fit(items: list[Item]) -> None:
        """413 naming the first item whose prompt and judgment would not fit the model's context:
        measured in tokens before anything is queued (where the backend can count them)."""
        backend = grm.backend
        if not isinstance(backend, CountsTokens):
            return
        room = backend.context_length - grm.max_new_tokens
        for i, n in enumerate(grm.prompt_lengths(items)):
            if n > room:
                raise HTTPException(
                    413,
                    f"items.{i}: its prompt is {n} tokens; the model's context leaves {room} "
                    f"({backend.context_length} less {grm.max_new_tokens} for the judgment)",
                )

    def check(what: str, value: int, most: int) -> None:
        if value > most:
            raise HTTPException(422, f"{what}: {value} is over the server's limit of {most}")

    @app.post("/v1/score", response_model=ScoreResponse, dependencies=[Depends(authorised)])
    async def score(request: ScoreRequest) -> ScoreResponse:
        check("items", len(request.items), limits.max_items)
        check("k", request.k, limits.max_k)
        for i, it in enumerate(request.items):
            check(f"items.{i}.responses", len(it.responses), limits.max_responses)
        try:
            grm.check_options(request.k, request.strategy)  # at once, not behind the model
            items = [
                Item(id=it.id if it.id is not None else str(i), query=it.query, responses=it.responses)
                for i, it in enumerate(request.items)
            ]
        except ValidationError as e:
            raise HTTPException(422, f"items: {e.errors()[0]['msg']}") from None
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        fit(items)
        judgments = await judged(items, request.k, request.strategy)
        return ScoreResponse(
            model=model_name,
            results=[
                ScoreOut(
                    **j.model_dump(include={"id", "rewards", "best", "ties", "n_valid", "n_failed"}),
                    score_range=grm.template_for(it).score_range,
                    principle_mode=j.principle_mode,
                    principles=[p.text for p in j.principles],
                    samples=[_sample_out(s) for s in j.samples] if request.details else None,
                )
                for j, it in zip(judgments, items, strict=True)
            ],
        )

    @app.post("/get_reward", response_model=RewardResponse, dependencies=[Depends(authorised)])
    async def get_reward(request: RewardRequest) -> RewardResponse:
        check("query", len(request.query), limits.max_items)
        if request.prompts is not None and len(request.prompts) != len(request.query):
            raise HTTPException(422, f"prompts: {len(request.prompts)} prompts for {len(request.query)} queries")
        items = []
        for i, q in enumerate(request.query):
            try:
                prompt, response = split_query(q, request.prompts[i] if request.prompts else None, response_marker)
            except ValueError as e:
                raise HTTPException(422, f"query.{i}: {e}") from None
            items.append(Item(id=str(i), query=prompt, responses=[response]))
        fit(items)
        judgments = await judged(items, k, None)
        rewards = [
            failed_reward if r is None else r[0]
            for r in (
                normalised_rewards(j, grm.template_for(it).score_range) for j, it in zip(judgments, items, strict=True)
            )
        ]
        return RewardResponse(
            rewards=rewards,
            scores=rewards,
            extra_logs={
                "valid": [float(j.n_valid > 0) for j in judgments],
                "valid_samples": [float(j.n_valid) for j in judgments],
            },
        )

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/metrics", dependencies=[Depends(authorised)])
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(grm: GRM, host: str, port: int, **options) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uvicorn.run(create_app(grm, **options), host=host, port=port, log_level="warning")
