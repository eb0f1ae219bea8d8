"""The routing table decides as documented; `promptkiln engines` shows it; errors map as drawn."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from promptkiln.cli.main import app
from promptkiln.config import load_settings
from promptkiln.engine_settings import DEFAULT_ROUTING
from promptkiln.engines.errors import map_vendor_error
from promptkiln.engines.openai import memory_tier
from promptkiln.engines.routing import route
from promptkiln.errors import (
    ConfigError,
    GenerationError,
    LimitExceeded,
    ModelAuthError,
    ModelRateLimited,
    ModelUnavailable,
)
from promptkiln.sandbox.base import GiB

ALL_KEYS = {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o", "GEMINI_API_KEY": "g"}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ALL_KEYS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def _no_vendor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ALL_KEYS, "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _auto(formats: list[str], input_bytes: int = 0, **kw: Any) -> tuple[str, str]:
    s = load_settings(engine="auto", **kw)
    r = route(s.engine, s.engines, offline=s.offline, formats=formats, input_bytes=input_bytes)
    return r.engine, r.reason


@pytest.mark.parametrize(
    ("formats", "engine"),
    [
        (["pdf"], "claude"),
        (["docx"], "claude"),
        (["pptx"], "claude"),
        (["png"], "gemini"),
        (["csv"], "local"),
        (["md", "pdf"], "claude"),
        ([], "local"),
    ],
)
def test_default_table_routes_by_format(keys: None, formats: list[str], engine: str) -> None:
    assert _auto(formats)[0] == engine


def test_large_data_routes_to_openai_before_the_format(keys: None) -> None:
    engine, reason = _auto(["png"], input_bytes=25 * 2**20)
    assert engine == "openai" and "large data" in reason


def test_a_missing_key_falls_back_to_local_and_says_why() -> None:
    engine, reason = _auto(["pdf"])
    assert engine == "local"
    assert reason == "PDF routes to claude, but claude is not usable: no key (ANTHROPIC_API_KEY)"


def test_google_api_key_counts_for_gemini(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g")
    assert _auto(["png"])[0] == "gemini"


def test_offline_wins_over_everything(keys: None) -> None:
    assert _auto(["pdf"], offline=True) == ("local", "offline = true: nothing is sent to a vendor")
    s = load_settings(engine="claude", offline=True)
    assert route(s.engine, s.engines, offline=s.offline).engine == "local"


def test_the_table_comes_from_the_config_file(
    keys: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('engine = "auto"\n[engines.routing]\npdf = "openai"\ndefault = "gemini"\n')
    monkeypatch.setenv("PROMPTKILN_CONFIG", str(cfg))
    assert _auto(["pdf"])[0] == "openai"
    assert _auto(["csv"]) == ("gemini", "the routing table's default")


def test_an_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="engine must be one of"):
        load_settings(engine="bard")


def test_defaults_are_the_documented_ones() -> None:
    assert DEFAULT_ROUTING == {
        "pdf": "claude",
        "docx": "claude",
        "pptx": "claude",
        "large_data": "openai",
        "png": "gemini",
        "jpg": "gemini",
        "svg": "gemini",
        "default": "local",
    }


def test_memory_tiers() -> None:
    assert [memory_tier(n) for n in (GiB // 2, GiB, 3 * GiB, 16 * GiB, 100 * GiB)] == [
        "1g",
        "1g",
        "4g",
        "16g",
        "64g",
    ]


class _StatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"Error code: {status}")
        self.status_code = status


@pytest.mark.parametrize(
    ("status", "kind", "exit_code"),
    [
        (401, ModelAuthError, 69),
        (403, ModelAuthError, 69),
        (413, LimitExceeded, 125),
        (429, ModelRateLimited, 69),
        (529, ModelUnavailable, 69),
        (400, GenerationError, 69),
    ],
)
def test_status_codes_map_to_the_error_tree(status: int, kind: type, exit_code: int) -> None:
    err = map_vendor_error(_StatusError(status), "openai")
    assert type(err) is kind and err.exit_code == exit_code and err.hint


def test_engines_command_lists_usability_and_the_table(keys: None) -> None:
    result = CliRunner().invoke(app, ["engines", "--json"], catch_exceptions=False)
    info = json.loads(result.stdout)
    usable = {e["engine"]: e["usable"] for e in info["engines"]}
    assert usable == {"local": True, "claude": True, "openai": True, "gemini": True}
    assert info["routing"] == DEFAULT_ROUTING
    text = CliRunner().invoke(app, ["engines"], catch_exceptions=False).stdout
    assert "pdf         → claude" in text


def test_engines_command_says_why_an_engine_is_not_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTKILN_OFFLINE", "true")
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    result = CliRunner().invoke(app, ["engines", "--json"], catch_exceptions=False)
    info = json.loads(result.stdout)
    why = {e["engine"]: e["why_not"] for e in info["engines"]}
    assert why["openai"] == "offline = true" and why["local"] == ""


def test_the_readme_engines_config_loads_as_documented(
    keys: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    blocks = [b.split("```")[0] for b in readme.split("```toml\n")[1:]]
    block = next(b for b in blocks if "[engines.claude]" in b)  # the block itself names it
    cfg = tmp_path / "config.toml"
    cfg.write_text(block)
    monkeypatch.setenv("PROMPTKILN_CONFIG", str(cfg))
    s = load_settings()
    assert (s.engine, s.offline) == ("auto", False)
    assert s.engines.base_url("claude") == "https://llm-gateway.internal/anthropic"
    assert s.engines.api_key("claude") == "..."
    assert s.engines.routing == {"csv": "openai"}  # a table in the file replaces the defaults
