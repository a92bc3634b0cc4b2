"""The reward server under a real uvicorn on 127.0.0.1, called over HTTP: batching of concurrent
callers, validation, auth, limits, timeouts, OpenRLHF's /get_reward and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from helpers import ScriptedJudge, running

from spct.grm import GRM
from spct.serve.app import Limits, create_app, split_query


class SlowJudge(ScriptedJudge):
    def generate(self, prompts, sampling):
        time.sleep(1.0)
        return super().generate(prompts, sampling)


class BrokenJudge(ScriptedJudge):
    def generate(self, prompts, sampling):
        raise RuntimeError("secret internal detail")


@pytest.fixture
def judge() -> ScriptedJudge:
    return ScriptedJudge()


@pytest.fixture
def url(judge: ScriptedJudge) -> Iterator[str]:
    app = create_app(
        GRM(backend=judge), token="s3cret", max_wait=0.2, limits=Limits(max_items=8, max_body_bytes=20_000)
    )
    with running(app) as base:
        yield base


AUTH = {"Authorization": "Bearer s3cret"}


def test_score_returns_rewards_best_and_on_request_the_critiques(url: str):
    item = {"id": "a", "query": "Which is right?", "responses": ["wrong", "right", "wrong too"]}
    r = httpx.post(f"{url}/v1/score", json={"items": [item], "k": 2, "details": True}, headers=AUTH)
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    assert result["id"] == "a" and result["best"] == 1 and result["rewards"] == [4, 20, 4]
    assert len(result["samples"]) == 2 and result["samples"][0]["principles"] == ["Says right"]
    plain = httpx.post(f"{url}/v1/score", json={"items": [item]}, headers=AUTH).json()["results"][0]
    assert plain["samples"] is None and plain["rewards"] == [2, 10, 2]  # k = 1: greedy


def test_concurrent_callers_are_judged_in_one_model_call(url: str, judge: ScriptedJudge):
    async def call(client: httpx.AsyncClient, i: int) -> dict:
        item = {"id": f"q{i}", "query": "q", "responses": ["right", "wrong"] if i % 2 else ["wrong", "right"]}
        r = await client.post(f"{url}/v1/score", json={"items": [item]}, headers=AUTH)
        return r.json()["results"][0]

    async def all_at_once() -> list[dict]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(call(client, i) for i in range(6)))

    results = asyncio.run(all_at_once())
    assert [r["best"] for r in results] == [1, 0, 1, 0, 1, 0]  # each caller gets its own item back
    assert sum(n for n, _ in judge.calls) == 6 and len(judge.calls) < 6
    metrics = httpx.get(f"{url}/metrics", headers=AUTH).text
    assert "spct_items_judged_total 6.0" in metrics and 'spct_requests_total{path="/v1/score",status="200"}' in metrics


def test_bad_payloads_get_a_4xx_naming_the_field(url: str):
    empty = httpx.post(f"{url}/v1/score", json={"items": [{"query": "q", "responses": []}]}, headers=AUTH)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "items", 0, "responses"]
    wrong_type = httpx.post(f"{url}/v1/score", json={"items": [{"query": 3, "responses": ["a"]}]}, headers=AUTH)
    assert wrong_type.status_code == 422 and "query" in wrong_type.json()["detail"][0]["loc"]
    not_json = httpx.post(f"{url}/v1/score", content=b"{nope", headers={**AUTH, "content-type": "application/json"})
    assert not_json.status_code == 422
    too_many = httpx.post(f"{url}/v1/score", json={"items": [{"query": "q", "responses": ["a"]}] * 9}, headers=AUTH)
    assert too_many.status_code == 422 and "over the server's limit of 8" in too_many.json()["detail"]
    huge = httpx.post(f"{url}/v1/score", json={"items": [{"query": "q" * 30_000, "responses": ["a"]}]}, headers=AUTH)
    assert huge.status_code == 413
    strategy = httpx.post(
        f"{url}/v1/score",
        json={"items": [{"query": "q", "responses": ["a", "b"]}], "strategy": "nonsense"},
        headers=AUTH,
    )
    assert strategy.status_code == 422 and "nonsense" in strategy.json()["detail"]


def test_a_missing_or_wrong_token_is_refused_and_health_is_open(url: str):
    body = {"items": [{"query": "q", "responses": ["a"]}]}
    assert httpx.post(f"{url}/v1/score", json=body).status_code == 401
    assert httpx.post(f"{url}/v1/score", json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}  # no model path to strangers
    for page in ("/openapi.json", "/docs", "/redoc"):  # off: they would need no token
        assert httpx.get(f"{url}{page}").status_code == 404


def test_get_reward_in_openrlhf_shape_splits_prompt_and_response(url: str):
    queries = ["Human: is it right?\nAssistant: right", "Human: is it right?\nAssistant: wrong"]
    prompts = ["Human: is it right?\nAssistant: "] * 2
    r = httpx.post(f"{url}/get_reward", json={"query": queries, "prompts": prompts}, headers=AUTH)
    assert r.status_code == 200, r.text
    # the scripted judge gives 'right' 10 and anything else 2, on the 1..10 scale mapped to [0, 1]
    assert r.json()["rewards"] == [1.0, pytest.approx(1 / 9)] and r.json()["scores"] == r.json()["rewards"]
    no_split = httpx.post(f"{url}/get_reward", json={"query": queries}, headers=AUTH)
    assert no_split.status_code == 422 and "query.0" in no_split.json()["detail"]


def test_split_query_by_prompt_or_marker():
    assert split_query("<u>hi<a>there", "<u>hi<a>", None) == ("<u>hi<a>", "there")
    assert split_query("<u>hi<a>x<a>there", None, "<a>") == ("<u>hi<a>x", "there")
    with pytest.raises(ValueError, match="does not start"):
        split_query("abc", "x", None)


def test_a_slow_model_times_out_with_504_and_a_failing_one_leaks_no_trace():
    with running(create_app(GRM(backend=SlowJudge()), limits=Limits(timeout=0.3))) as base:
        r = httpx.post(f"{base}/v1/score", json={"items": [{"query": "q", "responses": ["a"]}]}, timeout=10)
        assert r.status_code == 504
    with running(create_app(GRM(backend=BrokenJudge()))) as base:
        r = httpx.post(f"{base}/v1/score", json={"items": [{"query": "q", "responses": ["a"]}]}, timeout=10)
        assert r.status_code == 500 and "secret" not in r.text and "Traceback" not in r.text
        assert httpx.get(f"{base}/health").status_code == 200  # and it goes on serving
