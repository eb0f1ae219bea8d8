"""The vendor traps of issue 22, each reproduced by the fakes in tests/vendor_servers/ as the
vendor documents it, through the real SDKs: uncited container files, a vendor clock behind the
local one, Gemini's answer to a wrong key, Gemini's fixed deadline, the Claude beta header, and
error lines that name the HTTP status once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anthropic
import pytest

from promptkiln.engines.claude import TOOL_BETAS, betas_for, newest_tool_version
from promptkiln.engines.errors import map_vendor_error
from promptkiln.errors import GenerationError, ModelAuthError
from promptkiln.making.make import make

vf = sys.modules["promptkiln_tests_vendor_fixtures"]
Turn = vf.Turn

DATA_AND_CHART = """
from PIL import Image
open("data.csv", "w").write("q,revenue\\nQ1,2.5\\nQ2,3.5\\n")
Image.new("RGB", (60, 40), "navy").save("chart.png")
"""


@pytest.mark.docker
def test_openai_a_file_the_answer_does_not_cite_is_still_delivered(
    fake_openai: Any, tmp_path: Path
) -> None:
    """OpenAI's code interpreter docs (platform.openai.com/docs/guides/tools-code-interpreter,
    "Work with files"): files the model creates are *cited* as ``container_file_citation``
    annotations, and the container's files are listed by ``GET /v1/containers/{id}/files``.
    The answer decides what it cites: here it cites data.csv, not the chart the code saved."""
    fake_openai.enqueue(Turn(DATA_AND_CHART, text="The data:", cite_only=("data.csv",)))
    lines: list[str] = []
    result = make(
        "The sales data and a chart",
        formats=["csv", "png"],
        out=tmp_path / "out",
        settings=vf.engine_settings("openai", fake_openai, attempts=1),
        progress=lines.append,
    )
    assert sorted(a.name for a in result.files) == ["chart.png", "data.csv"]
    assert (tmp_path / "out" / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("not cited in the answer: chart.png" in line for line in lines)
    downloads = [r["path"] for r in fake_openai.requests if r["path"].endswith("/content")]
    assert len(downloads) == 2  # merged by id: data.csv once, though cited and listed


@pytest.mark.docker
def test_openai_a_vendor_clock_behind_the_local_one_loses_no_file(
    fake_openai: Any, tmp_path: Path
) -> None:
    """A container file's ``created_at`` is the vendor's Unix time (OpenAI API reference,
    "The container file object"); a server clock two seconds behind ours must not hide the
    files of this call. No citations, so only the listing can find them."""
    fake_openai.clock_skew_s = -2.0
    fake_openai.enqueue(Turn(DATA_AND_CHART, cite=False))
    result = make(
        "The sales data and a chart",
        formats=["csv", "png"],
        out=tmp_path / "out",
        settings=vf.engine_settings("openai", fake_openai, attempts=1),
    )
    assert sorted(a.name for a in result.files) == ["chart.png", "data.csv"]


def test_gemini_a_wrong_key_is_a_key_error(fake_gemini: Any, tmp_path: Path) -> None:
    """The Gemini API answers an invalid key with ``400 INVALID_ARGUMENT`` and an ``ErrorInfo``
    reason ``API_KEY_INVALID`` (ai.google.dev/gemini-api/docs/troubleshooting: "400
    INVALID_ARGUMENT ... API key not valid"), not with 401."""
    settings = vf.load_settings(
        engine="gemini",
        attempts=1,
        engines={"gemini": {"base_url": fake_gemini.base_url, "api_key": "wrong-key"}},
    )
    with pytest.raises(ModelAuthError) as info:
        make("a chart", formats=["png"], out=tmp_path / "out", settings=settings)
    text = str(info.value)
    assert "Gemini refused the API key (400: API key not valid" in text
    assert "GEMINI_API_KEY" in (info.value.hint or "") and "model name" not in text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("engine", "fake"), [("claude", "fake_anthropic"), ("openai", "fake_openai")]
)
def test_an_error_line_names_the_status_once(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str, fake: str
) -> None:
    """Anthropic's and OpenAI's error bodies (docs.anthropic.com/en/api/errors,
    platform.openai.com/docs/guides/error-codes) carry the message in ``error.message``; the
    SDKs render the exception as ``Error code: 401 - {...}``. The line says 401 once."""
    vendor = request.getfixturevalue(fake)
    settings = vf.load_settings(
        engine=engine,
        attempts=1,
        engines={engine: {"base_url": vendor.base_url, "api_key": "wrong-key"}},
    )
    with pytest.raises(ModelAuthError) as info:
        make("a table", formats=["csv"], out=tmp_path / "out", settings=settings)
    line = str(info.value)
    assert line.count("401") == 1 and "Error code" not in line, line
    assert "(401: invalid x-api-key)" in line


def test_claude_sends_only_beta_names_the_api_knows(fake_anthropic: Any) -> None:
    """Anthropic's beta headers docs (docs.anthropic.com/en/api/beta-headers): an unknown
    ``anthropic-beta`` value is a 400. The code execution tool docs list the header each beta
    tool version needs (``code-execution-2025-08-25`` for ``code_execution_20250825``); the
    newer versions need none. A name built from the version is the trap."""
    newest = newest_tool_version()
    assert newest > "20250825"  # the installed SDK has a generally available version
    assert not any(b.startswith("code-execution") for b in betas_for(newest))
    assert betas_for("20250825")[0] == TOOL_BETAS["20250825"]

    client = anthropic.Anthropic(
        api_key=fake_anthropic.api_key, base_url=fake_anthropic.base_url, max_retries=0
    )
    mechanical = f"code-execution-{newest[:4]}-{newest[4:6]}-{newest[6:]}"
    with pytest.raises(anthropic.BadRequestError) as info:
        client.beta.messages.create(
            model="claude-test",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": f"code_execution_{newest}", "name": "code_execution"}],  # type: ignore[list-item]
            betas=[mechanical],
        )
    err = map_vendor_error(info.value, "claude")
    assert isinstance(err, GenerationError) and f"(400: Unexpected value(s) `{mechanical}`" in str(
        err
    )


@pytest.mark.docker
def test_claude_the_engine_request_passes_the_beta_check(
    fake_anthropic: Any, tmp_path: Path
) -> None:
    """The engine's own request with the newest tool version: accepted, and its header lists the
    Files API beta alone (docs.anthropic.com/en/docs/build-with-claude/files)."""
    fake_anthropic.enqueue(Turn('open("t.csv", "w").write("a\\n1\\n")\n'))
    result = make(
        "a table",
        formats=["csv"],
        out=tmp_path / "out",
        settings=vf.engine_settings("claude", fake_anthropic, attempts=1),
    )
    assert [a.name for a in result.files] == ["t.csv"]
    sent = next(r for r in fake_anthropic.requests if r["path"] == "/v1/messages")
    assert sent["headers"]["anthropic-beta"] == "files-api-2025-04-14"
    assert sent["body"]["tools"][0]["type"] == f"code_execution_{newest_tool_version()}"
