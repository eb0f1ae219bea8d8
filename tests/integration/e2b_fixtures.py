"""Fixtures for the E2B backend: the real e2b SDK against the local fake E2B (tests/e2b_server).

Register with ``pytest_plugins`` or re-export from a conftest. Fixtures:

* ``e2b_fake`` (session): the fake's control plane + envd on a loopback port; every fake sandbox
  is a locked-down container of the sandbox image (``$PROMPTKILN_IMAGE`` or
  ``promptkiln-sandbox:latest``); skipped when Docker or the image is missing.
* ``e2b_env``: points ``E2B_API_URL``, ``E2B_SANDBOX_URL`` and ``E2B_API_KEY`` at the fake for one
  test and clears the fake's injected faults afterwards.
* ``e2b_settings``: Settings with ``backend="e2b"`` aimed at the fake (also through the settings'
  own fields, so ``model_dump`` round trips keep pointing there).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from promptkiln.config import Settings, load_settings

_E2B_VARS = ("E2B_API_KEY", "E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL", "E2B_DEBUG")


def load_fake_server() -> ModuleType:
    """Import tests/e2b_server as a package by path (tests/ is not a package)."""
    name = "promptkiln_tests_e2b_server"
    if name in sys.modules:
        return sys.modules[name]
    root = Path(__file__).resolve().parents[1] / "e2b_server"
    spec = importlib.util.spec_from_file_location(
        name, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fake_image() -> str:
    return os.environ.get("PROMPTKILN_IMAGE") or "promptkiln-sandbox:latest"


@pytest.fixture(scope="session")
def e2b_fake() -> Iterator[Any]:
    pytest.importorskip("e2b", reason="the e2b extra is not installed")
    import docker
    import docker.errors

    image = fake_image()
    try:
        client = docker.from_env(timeout=10)
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.skip(f"the sandbox image {image} is not built (promptkiln image build)")
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    fake = load_fake_server().FakeE2B(image)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def e2b_env(e2b_fake: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in _E2B_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("E2B_API_URL", e2b_fake.url)
    monkeypatch.setenv("E2B_SANDBOX_URL", e2b_fake.url)
    monkeypatch.setenv("E2B_API_KEY", e2b_fake.api_key)
    try:
        yield e2b_fake
    finally:
        e2b_fake.clear_faults()


@pytest.fixture
def e2b_settings(e2b_env: Any) -> Settings:
    return load_settings(
        backend="e2b",
        limits={"timeout": 60},
        e2b={"api_url": e2b_env.url, "sandbox_url": e2b_env.url, "api_key": e2b_env.api_key},
    )
