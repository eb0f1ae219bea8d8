"""`promptkiln make` checks its arguments before it creates a session or starts a model server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "promptkiln.cli"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A model that cannot be reached: if the arguments were checked too late, the run would get
    # as far as the model (and a session would exist) instead of failing at once.
    env = {
        **os.environ,
        "PROMPTKILN_MODEL": "openai/nobody",
        "PROMPTKILN_API_BASE": "http://127.0.0.1:9/v1",
    }
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _sessions(cwd: Path) -> list[object]:
    proc = _cli("sessions", "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert isinstance(listed, list)
    return listed


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["a chart", "-f", "exe"], "unsupported output format 'exe'"),
        (["a png chart", "-i", "missing.csv"], "missing.csv does not exist"),
        (["a chart"], "no output format requested"),
        (["a chart", "-f", "png", "-i", "missing.csv"], "missing.csv does not exist"),
    ],
    ids=["unknown-format", "missing-input", "missing-input-with-format", "no-format"],
)
def test_bad_arguments_fail_before_anything_is_created(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    proc = _cli("make", *args, "-o", "out", cwd=tmp_path)
    assert proc.returncode == 64, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and needle in errors[0], proc.stderr
    assert "session" not in proc.stderr, proc.stderr  # no "session 7f3c…, turn 1" progress line
    assert _sessions(tmp_path) == []
    home = Path(os.environ["PROMPTKILN_HOME"])
    assert not (home / "run" / "local-server.json").exists()
    assert not (tmp_path / "out").exists()


def test_empty_prompt_says_what_to_make(tmp_path: Path) -> None:
    proc = _cli("make", "", cwd=tmp_path)
    assert proc.returncode == 64, proc.stderr
    assert "the prompt is empty" in proc.stderr
    assert "what to make" in proc.stderr
    assert "what to change" not in proc.stderr
    assert _sessions(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--candidates", "0"], "--candidates"),
        (["--attempts", "abc"], "--attempts"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--time-budget", "-5"], "--time-budget"),
    ],
    ids=["candidates-range", "attempts-not-a-number", "unknown-flag", "time-budget-negative"],
)
def test_a_bad_option_value_is_a_usage_message_not_an_internal_error(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    proc = _cli("make", "a chart", "-f", "png", *args, "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Usage:" in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
