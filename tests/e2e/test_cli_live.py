"""`--live`: the script's output on the terminal while it runs (a real CLI process, real Docker),
made safe like every other line, and not printed a second time at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker]

SLOW = """import sys, time
print("first", flush=True)
print("\\x1b[31mred", file=sys.stderr, flush=True)
time.sleep(3)
print("second")
open("t.csv", "w").write("a\\n1\\n")
"""


def test_run_live_shows_output_as_it_comes(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptkiln.cli", "run", str(script), "-o", str(tmp_path / "out"),
         "--live"],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[tuple[float, str]] = []
    for line in proc.stderr:
        lines.append((time.monotonic(), line.rstrip("\n")))
    assert proc.wait(timeout=120) == 0, lines
    ended = time.monotonic()
    texts = [t for _, t in lines]
    first = next((at for at, t in lines if t == "first"), None)
    assert first is not None, lines
    assert ended - first >= 2.0, lines  # printed while the script slept
    assert "\\x1b[31mred" in texts  # the escape made visible, never sent raw
    assert "second" in texts and "--- script stdout ---" not in texts
    assert (tmp_path / "out" / "t.csv").read_text() == "a\n1\n"
