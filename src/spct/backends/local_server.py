"""Start an OpenAI-compatible server on a local checkpoint, offline: `transformers serve`.

    with transformers_serve("src/spct/models/miniature-grm") as base_url:
        GRM(model, backend="openai", base_url=base_url).score(...)

For tests, benchmarks and trying the openai backend without vLLM; at scale, point the openai
backend at vLLM or SGLang instead. Note that `transformers serve` ignores `n` (one choice per
request), so the backend fans samples out.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from spct.backends.base import BackendError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(command: list[str], port: int, name: str, *, health: str, timeout: float, log: Path) -> Iterator[str]:
    """Run `command`, a server `name` listening on 127.0.0.1:`port`; the base URL of its OpenAI API
    once GET `health` answers 200; the process stopped on exit. Its output goes to `log`."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BackendError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BackendError(f"{name} not healthy after {timeout:.0f} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def transformers_serve(model: str | Path, *, timeout: float = 60.0, log: Path | None = None):
    """The base URL of a `transformers serve` process on 127.0.0.1 pinned to `model`, stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model)]
    command += ["--device", "cpu", "--host", "127.0.0.1", "--port", str(port)]
    log = log or Path(tempfile.mkdtemp(prefix="spct-serve-")) / "serve.log"
    return local_server(command, port, "transformers serve", health="/health", timeout=timeout, log=log)
