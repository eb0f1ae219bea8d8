"""Shared fixtures. Every test gets its own promptkiln home and no user config file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
