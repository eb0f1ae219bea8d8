"""Load tests/vendor_servers/ (a package of fakes; tests/ is not a package) and serve fixtures."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from promptkiln.config import load_settings

ROOT = Path(__file__).resolve().parents[1] / "vendor_servers"
PACKAGE = "promptkiln_tests_vendor_servers"


def load(module: str) -> ModuleType:
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
        )
        assert spec is not None and spec.loader is not None
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = pkg
        spec.loader.exec_module(pkg)
    return importlib.import_module(f"{PACKAGE}.{module}")


def _serve(fake: Any) -> Iterator[Any]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_anthropic() -> Iterator[Any]:
    yield from _serve(load("anthropic").FakeAnthropic())


@pytest.fixture
def fake_openai() -> Iterator[Any]:
    yield from _serve(load("openai").FakeOpenAI())


@pytest.fixture
def fake_gemini() -> Iterator[Any]:
    yield from _serve(load("gemini").FakeGemini())


def engine_settings(engine: str, fake: Any, **kw: Any) -> Any:
    """Settings that send ``engine`` to ``fake`` (key and base URL from the config, as a user
    would write them in [engines.<vendor>])."""
    return load_settings(
        engine=engine,
        engines={engine: {"base_url": fake.base_url, "api_key": fake.api_key}},
        **kw,
    )


Turn = load("common").Turn
