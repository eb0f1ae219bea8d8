"""Fixtures for integration tests."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Helpers of the integration tests (private_engine) import by name; pytest runs in importlib mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))


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


def _load_e2b_fixtures() -> ModuleType:
    """The E2B fake's fixtures (e2b_fake, e2b_env, e2b_settings), shared by test_e2b.py and the
    contract suite; loaded by path under one module name so there is one fake per session."""
    name = "promptkiln_tests_e2b_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("e2b_fixtures.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_e2b = _load_e2b_fixtures()
e2b_fake, e2b_env, e2b_settings = _e2b.e2b_fake, _e2b.e2b_env, _e2b.e2b_settings


def _load_vendor_fixtures() -> ModuleType:
    """The vendor fakes' fixtures (tests/vendor_servers/), one module per session."""
    name = "promptkiln_tests_vendor_fixtures"
    if name not in sys.modules:
        path = Path(__file__).with_name("vendor_fixtures.py")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


_vendors = _load_vendor_fixtures()
fake_anthropic, fake_openai, fake_gemini = (
    _vendors.fake_anthropic,
    _vendors.fake_openai,
    _vendors.fake_gemini,
)

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
