"""The openai backend against a real HTTP server on 127.0.0.1 that misbehaves on command: 5xx,
429, timeouts, connections cut mid-body, malformed JSON, empty choices; then a scoring job killed
with SIGKILL mid-run that resumes with every item judged exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from spct.backends import Sampling
from spct.backends.base import BackendError
from spct.backends.openai import OpenAIBackend
from spct.core import Principle, format_judgment

JUDGMENT = format_judgment([Principle(text="Right", weight=100)], "checked", [9, 2])


class Faulty(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions with the next mode of `self.server.modes` ("ok" once empty)."""

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(body)
        mode = self.server.modes.pop(0) if self.server.modes else "ok"
        if mode == "slow":
            time.sleep(self.server.delay)
            mode = "ok"
        if mode in ("500", "503", "429"):
            self.send_response(int(mode))
            if mode == "429":
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "try later"}}')
            return
        content = None if mode == "empty" else JUDGMENT
        payload = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                for i in range(body.get("n", 1))
            ],
        }
        data = b"{not json" if mode == "badjson" else json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) + (100 if mode == "cut" else 0)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if mode == "cut" else data)
        if mode == "cut":
            self.close_connection = True


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
    httpd.modes, httpd.seen, httpd.delay = [], [], 0.0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def backend(server: ThreadingHTTPServer, **kwargs) -> OpenAIBackend:
    return OpenAIBackend("m", base_url=f"http://127.0.0.1:{server.server_port}/v1", **kwargs)


PROMPT = [[{"role": "user", "content": "judge"}]]


@pytest.mark.parametrize("faults", [["500", "503"], ["429"], ["cut"], ["slow"]])
def test_transient_faults_are_retried_until_an_answer_comes(server, faults):
    server.modes, server.delay = list(faults), 1.5
    (got,) = backend(server, max_retries=3, timeout=0.5).generate(PROMPT, Sampling(n=2))
    assert [c.text for c in got] == [JUDGMENT, JUDGMENT]
    assert len(server.seen) == len(faults) + 1  # each fault cost one retry


def test_after_the_retry_budget_a_clear_error_then_the_circuit_opens(server):
    server.modes = ["500"] * 100
    b = backend(server, max_retries=1, circuit_after=2)
    for _ in range(2):
        with pytest.raises(BackendError, match=r"answered HTTP 500 \(after 1 retries"):
            b.generate(PROMPT, Sampling(n=1))
    sent = len(server.seen)
    with pytest.raises(BackendError, match="circuit open"):
        b.generate(PROMPT, Sampling(n=1))
    assert len(server.seen) == sent  # failed fast: nothing sent


def test_malformed_json_is_a_clear_error_and_empty_content_a_parse_failure(server):
    server.modes = ["badjson"] * 10
    with pytest.raises(BackendError, match="malformed answer"):
        backend(server, max_retries=0).generate(PROMPT, Sampling(n=1))
    server.modes = ["empty"]
    from spct.grm import GRM

    j = GRM("m", backend=backend(server, max_retries=0)).score("q", ["a", "b"])
    assert j.n_failed == 1 and j.failures == {"no_box": 1} and j.rewards is None


@pytest.mark.slow
def test_a_killed_scoring_job_resumes_with_every_item_judged_exactly_once(server, tmp_path: Path):
    server.modes, server.delay = ["slow"] * 1000, 0.3  # every answer takes 0.3 s: the job is mid-run when killed
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps({"id": f"i{k}", "query": "q", "responses": ["a", "b"]}) for k in range(40)))
    out = tmp_path / "out.jsonl"
    command = [
        sys.executable,
        "-m",
        "spct.cli",
        "score",
        str(items),
        "-o",
        str(out),
        "--backend",
        "openai",
        "--base-url",
        f"http://127.0.0.1:{server.server_port}/v1",
        "--model",
        "m",
        "--batch-size",
        "2",
    ]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while (not out.exists() or len(out.read_text().splitlines()) < 6) and time.monotonic() < deadline:
        time.sleep(0.1)
    job.send_signal(signal.SIGKILL)
    job.wait()
    before = len(out.read_text().splitlines())
    assert 6 <= before < 40  # killed mid-run
    server.delay = 0.0
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(f"i{k}" for k in range(40))  # every item once: none lost, none twice


def test_eval_over_the_openai_backend_never_imports_torch(server, tmp_path: Path):
    """A user with only a server (vLLM, llama.cpp) runs `spct eval` without PyTorch installed:
    the whole run, tables and plot included, must not import it."""
    code = f"""
import sys
from typer.testing import CliRunner
from spct.cli import app
r = CliRunner().invoke(app, ["eval", "miniature", "--backend", "openai", "--model", "m", "--samples", "1,2",
    "--base-url", "http://127.0.0.1:{server.server_port}/v1", "--limit", "2", "--out", {str(tmp_path)!r}])
assert r.exit_code == 0, r.output
print(sorted(m for m in ("torch", "transformers") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert json.loads((tmp_path / "results.json").read_text())["benchmarks"]["miniature"]
