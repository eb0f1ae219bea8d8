"""Routing end to end through the CLI: ``offline = true`` never opens a connection to a vendor
(each vendor's base URL points at a fake that counts connections), the vendors' own variables
(keys, ``*_BASE_URL``) are honoured, and a vendor error is one line with a meaningful exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from promptkiln.errors import ModelAuthError, ModelRateLimited, ModelUnavailable, PromptkilnError
from promptkiln.making.make import make

vf = sys.modules["promptkiln_tests_vendor_fixtures"]
Turn = vf.Turn

GOOD_PNG = """```python
from PIL import Image
Image.new("RGB", (40, 30), "teal").save("chart.png")
```"""


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptkiln.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _vendor_env(anthropic: Any, openai: Any, gemini: Any) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": anthropic.api_key,
        "OPENAI_API_KEY": openai.api_key,
        "GEMINI_API_KEY": gemini.api_key,
        "ANTHROPIC_BASE_URL": anthropic.base_url,
        "OPENAI_BASE_URL": openai.base_url,
        "PROMPTKILN_GEMINI_BASE_URL": gemini.base_url,
    }


@pytest.mark.docker
@pytest.mark.parametrize("engine", ["auto", "claude"])
def test_offline_never_connects_to_a_vendor(
    engine: str,
    fake_anthropic: Any,
    fake_openai: Any,
    fake_gemini: Any,
    openai_server: Any,
    tmp_path: Path,
) -> None:
    for fake in (fake_anthropic, fake_openai, fake_gemini):
        fake.enqueue(Turn('open("chart.png", "wb").write(b"x")'))  # would answer, if asked
    openai_server.enqueue(GOOD_PNG)
    env = _vendor_env(fake_anthropic, fake_openai, fake_gemini) | {"PROMPTKILN_OFFLINE": "true"}
    proc = _cli(
        [
            "make",
            "A teal rectangle",
            "-f",
            "png",
            "-o",
            str(tmp_path / "out"),
            "--engine",
            engine,
            "--model",
            "openai/test-model",
            "--api-base",
            openai_server.url,
        ],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "engine local: offline = true: nothing is sent to a vendor" in proc.stderr
    assert (tmp_path / "out" / "chart.png").exists()
    assert [fake.connections for fake in (fake_anthropic, fake_openai, fake_gemini)] == [0, 0, 0]
    assert len(openai_server.history) == 1  # the local model wrote the script


@pytest.mark.docker
def test_auto_routes_png_to_gemini_through_the_vendor_variables(
    fake_anthropic: Any, fake_openai: Any, fake_gemini: Any, tmp_path: Path
) -> None:
    fake_gemini.enqueue(Turn('from PIL import Image\nImage.new("RGB", (8, 8)).save("c.png")'))
    proc = _cli(
        ["make", "A chart", "-f", "png", "-o", str(tmp_path / "out"), "--engine", "auto", "--json"],
        _vendor_env(fake_anthropic, fake_openai, fake_gemini),
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert manifest["engine"] == "gemini" and manifest["engine_reason"] == "PNG routes to gemini"
    assert manifest["model"] == "gemini:gemini-2.5-flash"
    assert (tmp_path / "out" / "image-1.png").exists()
    assert (fake_anthropic.connections, fake_openai.connections) == (0, 0)


def test_a_refused_key_is_one_line_and_exit_69(fake_anthropic: Any, tmp_path: Path) -> None:
    proc = _cli(
        ["make", "A report", "-f", "pdf", "-o", str(tmp_path / "out"), "--engine", "claude"],
        {"ANTHROPIC_API_KEY": "wrong", "ANTHROPIC_BASE_URL": fake_anthropic.base_url},
    )
    assert proc.returncode == 69
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "Anthropic refused the API key" in line and "ANTHROPIC_API_KEY" in line
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_key_for_an_explicit_engine_says_what_to_set(tmp_path: Path) -> None:
    env = {
        k: "" for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    }
    proc = _cli(
        ["make", "A table", "-f", "csv", "-o", str(tmp_path / "o"), "--engine", "openai"], env
    )
    assert proc.returncode == 69
    assert "the openai engine has no API key" in proc.stderr and "OPENAI_API_KEY" in proc.stderr


@pytest.mark.parametrize(
    ("engine", "fake", "status", "error"),
    [
        ("claude", "fake_anthropic", 401, ModelAuthError),
        ("claude", "fake_anthropic", 429, ModelRateLimited),
        ("claude", "fake_anthropic", 529, ModelUnavailable),  # Anthropic's "overloaded_error"
        ("openai", "fake_openai", 401, ModelAuthError),
        ("openai", "fake_openai", 429, ModelRateLimited),
        ("openai", "fake_openai", 503, ModelUnavailable),
        ("gemini", "fake_gemini", 401, ModelAuthError),
        ("gemini", "fake_gemini", 429, ModelRateLimited),
        ("gemini", "fake_gemini", 503, ModelUnavailable),
    ],
)
def test_vendor_errors_map_to_the_error_tree(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    engine: str,
    fake: str,
    status: int,
    error: type[PromptkilnError],
) -> None:
    vendor = request.getfixturevalue(fake)
    vendor.enqueue_error(status, "scripted_error", f"scripted {status}")
    settings = vf.engine_settings(engine, vendor, attempts=1)
    with pytest.raises(error) as info:
        make("a table", formats=["csv"], out=tmp_path / "out", settings=settings)
    assert info.value.exit_code == 69 and info.value.hint
    assert not (tmp_path / "out").exists()
