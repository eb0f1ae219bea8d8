"""Fixtures of the red-team suite; the harness itself is redteam_harness.py (importable from the
tests here because this directory is put on sys.path)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam_harness import (
    REPO,
    SECRET_VARS,
    Host,
    LoopbackListener,
    _write_canary,
)


@pytest.fixture(scope="session")
def host() -> Iterator[Host]:
    import docker

    try:
        client = docker.from_env(timeout=30)
        info = client.info()
    except docker.errors.DockerException as exc:
        pytest.fail(f"the red-team suite needs a running Docker engine: {exc}")
    image = os.environ.get("PROMPTKILN_IMAGE") or "promptkiln-sandbox:latest"
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the sandbox image {image} is missing: run `promptkiln image build`")
    runtimes = {"runc": {}, **(info.get("Runtimes") or {})}
    client.close()

    token = "REDTEAM-CANARY-" + secrets.token_hex(12)
    env = {"REDTEAM_HOST_CANARY": token}
    for name in SECRET_VARS:
        env[name] = f"sk-{token}-{name.lower()}"
    tmp_canary = Path("/tmp/REDTEAM_HOST_CANARY.txt")
    text = f"{token}\n"
    made = [_write_canary(tmp_canary, text)]
    made += [
        _write_canary(d / ".redteam_host_canary", text)
        for d in (REPO, Path.home())
        if not (d / ".redteam_host_canary").exists()
    ]
    port = int(os.environ.get("REDTEAM_LOOPBACK_CANARY_PORT", "47291"))
    listener = LoopbackListener(port)
    try:
        yield Host(token, env, tmp_canary, text, listener, image, runtimes)
    finally:
        listener.close()
        for path in made:
            if path is not None:
                with contextlib.suppress(OSError):
                    if path.read_text() == text:
                        path.unlink()


@pytest.fixture(params=["runc", "runsc"])
def runtime(request: pytest.FixtureRequest, host: Host) -> str:
    """Every attack runs under runc and, where the engine has it, gVisor. CI must have both."""
    name: str = request.param
    if name not in host.runtimes:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"the Docker engine has no {name} runtime; CI must register it "
                "(scripts/ensure-docker.sh)"
            )
        pytest.skip(f"the Docker engine has no {name} runtime (runtimes: {sorted(host.runtimes)})")
    return name


@pytest.fixture
def docker_client() -> Iterator[Any]:
    import docker

    client = docker.from_env(timeout=60)
    try:
        yield client
    finally:
        client.close()
