"""Live output from the real backends: the script's stdout and stderr reach ``on_output`` while
it runs (Docker's attach stream, plain and warm; E2B's on_stdout/on_stderr against the fake
envd), and no more of it than the log cap keeps."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.sandbox.base import SCRIPT_PATH, Sandbox

pytestmark = [pytest.mark.docker]

SLOW = b"""
import sys, time
print("first", flush=True)
print("oops", file=sys.stderr, flush=True)
time.sleep(2.5)
print("second")
"""


class Sink:
    def __init__(self) -> None:
        self.pieces: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, data: bytes) -> None:
        with self.lock:
            self.pieces.append((time.monotonic(), stream, data))

    def data(self, stream: str) -> bytes:
        return b"".join(d for _, s, d in self.pieces if s == stream)

    def first_time(self, needle: bytes) -> float:
        seen = b""
        for at, stream, data in self.pieces:
            if stream == "stdout":
                seen += data
                if needle in seen:
                    return at
        raise AssertionError(f"{needle!r} never came: {self.pieces}")


@pytest.fixture(params=["docker", "docker-warm", "e2b"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    sb: Any
    if request.param == "e2b":
        from promptkiln.sandbox.e2b import create

        sb = create(request.getfixturevalue("e2b_settings"), f"live-{uuid.uuid4().hex[:8]}")
    else:
        from promptkiln.sandbox.docker import DockerSandbox

        settings = load_settings(limits={"timeout": 60})
        warm = request.param == "docker-warm"
        sb = DockerSandbox(settings, f"live-{uuid.uuid4().hex[:8]}", warm=warm)
    try:
        sb.start()
        yield sb
    finally:
        sb.close()


def test_output_arrives_while_the_script_runs(sandbox: Any) -> None:
    sink = Sink()
    sandbox.put_inputs([], SLOW)
    result = sandbox.run(["python3", SCRIPT_PATH], timeout_s=60, on_output=sink)
    ended = time.monotonic()
    assert result.exit_code == 0, result.stderr.text
    assert ended - sink.first_time(b"first") >= 1.5  # seen before the 2.5 s sleep was over
    assert sink.data("stdout") == result.stdout.data == b"first\nsecond\n"
    assert sink.data("stderr") == result.stderr.data == b"oops\n"


def test_live_output_is_bounded_by_the_log_cap(tmp_path: Any) -> None:
    from promptkiln.sandbox.docker import DockerSandbox

    settings: Settings = load_settings(limits={"timeout": 60, "log_bytes": "16k"})
    sink = Sink()
    with DockerSandbox(settings, f"live-cap-{uuid.uuid4().hex[:8]}") as sb:
        sb.put_inputs([], b"import sys\nsys.stdout.write('x' * 200_000)\n")
        result = sb.run(["python3", SCRIPT_PATH], timeout_s=60, on_output=sink)
    assert len(sink.data("stdout")) == len(result.stdout.data) == 16 * 1024
    assert result.stdout.dropped == 200_000 - 16 * 1024
