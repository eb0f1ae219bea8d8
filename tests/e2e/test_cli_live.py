"""`--live`: the script's output on the terminal while it runs (a real CLI process, real Docker),
made safe like every other line, and not printed a second time at the end."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker]

SLOW = """import sys, time
print("first", flush=True)
print("\\x1b[31mred", file=sys.stderr, flush=True)
time.sleep(3)
print("second")
open("t.csv", "w").write("a\\n1\\n")
"""


@pytest.fixture
def openai_server() -> Iterator[Any]:
    """The scripted OpenAI-compatible model (tests/fakes/openai_server.py, loaded by path)."""
    name = "promptkiln_tests_fakes_openai_server"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "fakes" / "openai_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    server = sys.modules[name].ScriptedOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


def live_lines(args: list[str], cwd: Path) -> tuple[list[tuple[float, str]], float]:
    """The CLI's stderr lines with their arrival times, and when it exited (exit 0 asserted)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptkiln.cli", *args], cwd=cwd, env=dict(os.environ),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[tuple[float, str]] = []
    for line in proc.stderr:
        lines.append((time.monotonic(), line.rstrip("\n")))
    assert proc.wait(timeout=180) == 0, lines
    return lines, time.monotonic()


def test_make_live_shows_the_generated_scripts_output(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(f"```python\n{SLOW}```")
    lines, ended = live_lines(
        ["make", "a small table", "-f", "csv", "-o", str(tmp_path / "out"), "--live",
         "--model", "openai/test-model", "--api-base", openai_server.url],
        tmp_path,
    )  # fmt: skip
    first = next((at for at, t in lines if t == "first"), None)
    assert first is not None and ended - first >= 2.0, lines
    assert (tmp_path / "out" / "t.csv").exists()


def test_run_live_shows_output_as_it_comes(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    lines, ended = live_lines(["run", str(script), "-o", str(tmp_path / "out"), "--live"], tmp_path)
    texts = [t for _, t in lines]
    first = next((at for at, t in lines if t == "first"), None)
    assert first is not None, lines
    assert ended - first >= 2.0, lines  # printed while the script slept
    assert "\\x1b[31mred" in texts  # the escape made visible, never sent raw
    assert "second" in texts and "--- script stdout ---" not in texts
    assert (tmp_path / "out" / "t.csv").read_text() == "a\n1\n"
