"""Shared fixtures. Every test gets its own promptkiln home and no user config file."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests check behaviour, not speed: on a loaded 2-core machine one example can take longer
# than hypothesis' 200 ms default deadline, which then fails as "flaky" (speed lives in benchmarks).
hypothesis_settings.register_profile("promptkiln", deadline=None)
hypothesis_settings.load_profile("promptkiln")

# A shell starts background jobs (`make test &`, nohup, some CI runners) with SIGINT ignored, and
# an ignored signal stays ignored across exec: the CLI processes the Ctrl-C tests start would
# never see their SIGINT. A handler (unlike SIG_IGN) is reset to the default on exec, so the
# children get Python's usual KeyboardInterrupt.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Helpers shared by test modules (shared_corpus) import by name; pytest runs in importlib mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point promptkiln's data, cache and config at a per-test directory (the user's real ones
    are never touched). The model cache is shared across tests so the bundled model is
    assembled once per machine."""
    home = tmp_path_factory.mktemp("pkhome")
    monkeypatch.setenv("PROMPTKILN_HOME", str(home / "data"))
    monkeypatch.setenv("PROMPTKILN_CONFIG", str(home / "config.toml"))
    for name in list(__import__("os").environ):
        if name.startswith("PROMPTKILN_") and name not in (
            "PROMPTKILN_HOME",
            "PROMPTKILN_CONFIG",
            "PROMPTKILN_CACHE",
            "PROMPTKILN_LOCAL_MODEL",
            "PROMPTKILN_IMAGE",
        ):
            monkeypatch.delenv(name)
    yield home


def _load_pgserver() -> Any:
    """tests/pgserver.py by path (pytest runs in importlib mode; tests/ is not a package)."""
    name = "promptkiln_tests_pgserver"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent / "pgserver.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One real PostgreSQL for the whole run (started on first use, stopped at the end)."""
    pgserver = _load_pgserver()
    try:
        server = pgserver.PgServer()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return str(pg_server.create_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """Run a test against both stores: None (SQLite in the home) or a fresh PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))
