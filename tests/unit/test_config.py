"""Settings precedence: defaults < config file < PROMPTKILN_ environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkiln.config import load_settings, parse_size
from promptkiln.errors import ConfigError


def test_defaults_are_the_secure_ones() -> None:
    s = load_settings()
    assert s.backend == "docker"
    assert s.runtime == ""
    assert s.limits.memory == 2**30
    assert s.limits.pids == 256
    assert s.limits.timeout == 300
    assert s.e2b.allow_internet is False
    assert s.model == ""


def test_precedence_file_env_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'model = "from-file"\nattempts = 5\n[limits]\nmemory = "2g"\ntimeout = 100\npids = 100\n'
    )
    monkeypatch.setenv("PROMPTKILN_CONFIG", str(cfg))
    s = load_settings()
    assert (s.model, s.attempts, s.limits.memory, s.limits.timeout) == (
        "from-file",
        5,
        2 * 2**30,
        100,
    )
    monkeypatch.setenv("PROMPTKILN_MODEL", "from-env")
    monkeypatch.setenv("PROMPTKILN_LIMITS__TIMEOUT", "50")
    s = load_settings()
    assert (s.model, s.limits.timeout) == ("from-env", 50)
    s = load_settings(model="from-flag", limits={"timeout": 7, "cpus": None})
    assert (s.model, s.limits.timeout, s.limits.pids, s.limits.cpus) == ("from-flag", 7, 100, 2.0)


def test_bad_values_are_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"limits\.timeout"):
        load_settings(limits={"timeout": -1})
    cfg = tmp_path / "config.toml"
    cfg.write_text("this is = = not toml")
    monkeypatch.setenv("PROMPTKILN_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="config file"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512", 512),
        ("1k", 1024),
        ("256m", 256 * 2**20),
        ("2g", 2 * 2**30),
        ("1.5GiB", int(1.5 * 2**30)),
        (7, 7),
    ],
)
def test_parse_size(text: object, value: int) -> None:
    assert parse_size(text) == value


def test_parse_size_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
