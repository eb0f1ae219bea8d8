"""prompt -> script -> files, through real litellm calls to a scripted OpenAI-compatible server and
the real Docker sandbox. The repair loop is exercised deterministically: broken answers first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import load_settings
from promptkiln.errors import AttemptsExhausted
from promptkiln.making.make import make

pytestmark = [pytest.mark.docker]

GOOD_PNG = """Here is the script:

```python
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["Q1", "Q2", "Q3", "Q4"], [2.1, 2.8, 3.2, 3.9])
fig.savefig("revenue.png")
print("saved revenue.png")
```
"""
CRASHES = "```python\nimport pandas as pd\nraise RuntimeError('column revenue_usd not found')\n```"
WRONG_FORMAT = "```python\nopen('revenue.txt', 'w').write('Q1 2.1')\n```"


def settings_for(server: Any, **kw: Any) -> Any:
    return load_settings(
        model="openai/test-model", api_base=server.url, limits={"timeout": 60}, **kw
    )


def test_repair_loop_feeds_back_stderr_and_succeeds(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(CRASHES)
    openai_server.enqueue("Sorry, I cannot write code today.")
    openai_server.enqueue(GOOD_PNG)
    lines: list[str] = []
    result = make(
        "Bar chart of quarterly revenue",
        formats=["png"],
        out=tmp_path / "out",
        settings=settings_for(openai_server),
        progress=lines.append,
    )
    assert [f.name for f in result.files] == ["revenue.png"]
    assert (tmp_path / "out" / "revenue.png").read_bytes()[:4] == b"\x89PNG"
    assert result.attempt_count == 3
    assert "attempt 3 succeeded" in lines
    assert 'fig.savefig("revenue.png")' in result.script
    # The model saw its own failed answers and the specific problems.
    second = openai_server.history[1]["messages"]
    assert second[-2]["role"] == "assistant" and "RuntimeError" in second[-2]["content"]
    assert "column revenue_usd not found" in second[-1]["content"]
    third = openai_server.history[2]["messages"][-1]["content"]
    assert "no usable script" in third or "code block" in third
    assert result.attempts[0].problem and "exited with status 1" in result.attempts[0].problem


def test_missing_format_is_repaired_and_failed_attempts_deliver_nothing(
    openai_server: Any, tmp_path: Path
) -> None:
    openai_server.enqueue(WRONG_FORMAT)
    openai_server.enqueue(GOOD_PNG)
    result = make(
        "chart", formats=["png"], out=tmp_path / "out", settings=settings_for(openai_server)
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["revenue.png"]
    assert "png" in openai_server.history[1]["messages"][-1]["content"]
    assert result.attempt_count == 2


def test_attempts_exhausted_leaves_out_untouched(openai_server: Any, tmp_path: Path) -> None:
    for _ in range(3):  # attempt 2 repeats attempt 1's script: it is asked once more, warmer
        openai_server.enqueue(CRASHES)
    out = tmp_path / "out"
    with pytest.raises(AttemptsExhausted) as info:
        make("chart", formats=["png"], out=out, settings=settings_for(openai_server, attempts=2))
    assert info.value.attempts == 2
    assert "exited with status 1" in info.value.last_problem
    assert not out.exists()


def test_cli_make_json(openai_server: Any, tmp_path: Path) -> None:
    openai_server.enqueue(GOOD_PNG)
    env = {
        **os.environ,
        "PROMPTKILN_MODEL": "openai/test-model",
        "PROMPTKILN_API_BASE": openai_server.url,
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptkiln.cli",
            "make",
            "Bar chart",
            "-f",
            "png",
            "-o",
            "out",
            "--json",
            "--keep-script",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)
    assert sorted(f["name"] for f in manifest["files"]) == ["revenue.png", "script.py"]
    assert manifest["attempts"] == 1
    assert set(manifest["timings"]) >= {"generate_s", "run_s", "validate_s"}
    assert manifest["warnings"] == [] and manifest["requirements"] == []
    (attempt,) = manifest["attempt_details"]
    assert attempt["problem"] is None and attempt["temperature"] == 0
    assert attempt["stopped"] == "fence" and len(attempt["script_sha256"]) == 64


def test_cli_make_model_down_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PROMPTKILN_MODEL": "openai/test-model",
        "PROMPTKILN_API_BASE": "http://127.0.0.1:9/v1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "promptkiln.cli", "make", "Bar chart", "-f", "png", "-o", "out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 69, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "127.0.0.1:9" in errors[0]
    assert not (tmp_path / "out").exists()
