"""A real `promptkiln serve` process on a loopback port, real Docker, and real litellm talking to
the scripted OpenAI-compatible server. Tests reach the server with httpx over TCP."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

CLI = [sys.executable, "-m", "promptkiln.cli"]
GOOD_PNG = """```python
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["Q1", "Q2", "Q3", "Q4"], [2.1, 2.8, 3.2, 3.9])
fig.savefig("revenue.png", metadata={"Software": None})
```"""


def _load_fakes() -> ModuleType:
    name = "promptkiln_tests_fakes_openai_server"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[2] / "fakes" / "openai_server.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def openai_server() -> Iterator[Any]:
    server = _load_fakes().ScriptedOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


def create_key(tenant: str, *extra: str) -> str:
    proc = cli("keys", "create", "--tenant", tenant, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


class Server:
    """One `promptkiln serve` subprocess; ``start`` again after ``kill`` to restart it."""

    def __init__(self, log: Path, args: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*CLI, "serve", "--port", str(self.port), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(os.environ),
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(30)


@pytest.fixture
def serve(tmp_path: Path, openai_server: Any) -> Iterator[Any]:
    """``serve(*flags)`` starts a server on the scripted model; all are stopped afterwards."""
    started: list[Server] = []

    def start(*flags: str) -> Server:
        args = ["--model", "openai/test-model", "--api-base", openai_server.url, "--timeout", "60"]
        server = Server(tmp_path / f"server-{len(started)}.log", [*args, *flags]).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_job(http: httpx.Client, job_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "unmet", "failed", "cancelled", "interrupted"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def sandboxes_of(pid: int) -> list[Any]:
    """Containers labelled as sandboxes of process ``pid``."""
    import docker

    client = docker.from_env()
    try:
        return list(
            client.containers.list(
                all=True,
                filters={"label": ["promptkiln.kind=sandbox", f"promptkiln.owner-pid={pid}"]},
            )
        )
    finally:
        client.close()
