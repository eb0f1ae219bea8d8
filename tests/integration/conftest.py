"""Fixtures for integration tests."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _load_fakes() -> ModuleType:
    """Load tests/fakes/openai_server.py by path (pytest runs in importlib mode; tests/ is not a
    package)."""
    name = "promptkiln_tests_fakes_openai_server"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "fakes" / "openai_server.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


openai_server_module = _load_fakes()
ScriptedOpenAIServer = openai_server_module.ScriptedOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A scripted OpenAI-compatible server on 127.0.0.1; ``.url`` is its ``api_base``."""
    server = ScriptedOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()
