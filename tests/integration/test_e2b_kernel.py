"""Kernel mode of the E2B backend and E2B's stock code-interpreter template, through the real
``e2b`` and ``e2b_code_interpreter`` SDKs, against the local fake E2B (tests/e2b_server), whose
code-interpreter sandboxes serve ``POST /execute`` on port 49999 from a warm kernel process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.sandbox.base import SCRIPT_PATH, EntryKind, InputFile, Termination

pytestmark = [pytest.mark.e2b, pytest.mark.docker]
STOCK = "code-interpreter-v1"


def kernel_settings(fake: Any, tmp_path: Path, **limits: Any) -> Settings:
    return load_settings(
        backend="e2b",
        limits={"timeout": 60, **limits},
        cache=tmp_path / "cache",
        e2b={
            "api_url": fake.url,
            "sandbox_url": fake.url,
            "api_key": fake.api_key,
            "template": STOCK,
            "kernel": True,
        },
    )


@pytest.fixture
def sandbox(e2b_env: Any, tmp_path: Path) -> Iterator[Any]:
    pytest.importorskip("e2b_code_interpreter")
    from promptkiln.sandbox.e2b import create

    sb = create(kernel_settings(e2b_env, tmp_path), "kernel-run")
    try:
        yield sb
    finally:
        sb.close()


def run_script(sb: Any, script: bytes, inputs: list[InputFile] | None = None, **kw: Any) -> Any:
    sb.start()
    sb.put_inputs(inputs or [], script)
    return sb.run(["python3", SCRIPT_PATH, *kw.pop("args", [])], timeout_s=kw.pop("timeout", 60))


def test_a_script_that_writes_a_file_runs_in_the_kernel(sandbox: Any, e2b_env: Any) -> None:
    script = b"""
import os, sys
assert __name__ == '__main__' and 'In' not in globals()  # fresh globals, not the kernel's
rows = open('inputs/data.csv').read().splitlines()
os.makedirs('out', exist_ok=True)
with open('out/report.txt', 'w') as f:
    f.write('rows=%d argv=%s\\n' % (len(rows), sys.argv[1:]))
print('cwd', os.getcwd(), 'home', os.environ['HOME'], 'mpl', os.environ['MPLBACKEND'])
print('argv0', sys.argv[0])
"""
    result = run_script(
        sandbox, script, [InputFile("data.csv", b"a\n1\n2\n")], args=["--fast", "x y"]
    )
    assert result.ok, result.stderr.text
    assert result.stdout.text == (
        f"cwd /home/user/work home /home/user mpl Agg\nargv0 {SCRIPT_PATH}\n"
    )
    assert ("POST", "/execute") in e2b_env.requests  # run_code, not a command
    entries = {e.raw_name: e for e in sandbox.outputs()}
    assert set(entries) == {"out", "out/report.txt"}
    assert entries["out"].kind is EntryKind.DIR
    assert entries["out/report.txt"].read(1000) == b"rows=3 argv=['--fast', 'x y']\n"
    assert sandbox.info.extra["run"] == "kernel"


def test_the_kernel_is_warm_and_killed_before_collection(sandbox: Any) -> None:
    # A thread of the script that outlives it would keep writing from inside the kernel: the
    # kernel is stopped with everything else before the working directory is listed.
    script = b"""
import threading, time
def later():
    time.sleep(1.5)
    open('late.txt', 'w').write('too late')
threading.Thread(target=later, daemon=True).start()
open('early.txt', 'w').write('ok')
"""
    result = run_script(sandbox, script)
    assert result.ok, result.stderr.text
    time.sleep(0.1)
    names = {e.raw_name for e in sandbox.outputs()}
    time.sleep(2)
    assert names == {"early.txt"}
    assert {e.raw_name for e in sandbox.outputs()} == {"early.txt"}


def test_an_exception_is_status_1_with_the_traceback_in_stderr(sandbox: Any) -> None:
    script = b"print('before')\ndef f():\n    raise ValueError('bad value 42')\nf()\n"
    result = run_script(sandbox, script)
    assert result.termination is Termination.EXITED
    assert result.exit_code == 1
    assert result.stdout.text == "before\n"
    err = result.stderr.text
    assert err.startswith("Traceback (most recent call last):\n"), err
    assert f'File "{SCRIPT_PATH}", line 4' in err and "ValueError: bad value 42" in err
    assert "__promptkiln_job" not in err  # the runner's own frame is not shown


def test_sys_exit_and_syntax_errors_give_python_statuses(e2b_env: Any, tmp_path: Path) -> None:
    pytest.importorskip("e2b_code_interpreter")
    from promptkiln.sandbox.e2b import create

    for script, status, needle in (
        (b"import sys\nprint('partial')\nsys.exit(3)\n", 3, ""),
        (b"raise SystemExit('told to stop')\n", 1, "told to stop"),
        (b"def broken(:\n", 1, "SyntaxError"),
    ):
        with create(kernel_settings(e2b_env, tmp_path), "kernel-exit") as sb:
            sb.put_inputs([], script)
            result = sb.run(["python3", SCRIPT_PATH], timeout_s=60)
        assert result.exit_code == status, result.stderr.text
        assert needle in result.stderr.text


def test_timeout_kills_the_sandbox(sandbox: Any, e2b_env: Any) -> None:
    started = time.monotonic()
    script = b"import time\nprint('up', flush=True)\ntime.sleep(60)\n"
    result = run_script(sandbox, script, timeout=3)
    assert result.termination is Termination.TIMEOUT
    assert result.exit_code is None
    assert 3 <= result.duration_s < 10 and time.monotonic() - started < 30
    assert e2b_env.record(sandbox.info.extra["sandbox_id"]) is None
    assert list(sandbox.outputs()) == []


def test_output_past_the_cap_is_counted_and_dropped(e2b_env: Any, tmp_path: Path) -> None:
    pytest.importorskip("e2b_code_interpreter")
    from promptkiln.sandbox.e2b import create

    settings = kernel_settings(e2b_env, tmp_path, log_bytes=4096)
    script = (
        b"import sys\nfor i in range(1000):\n    print('x' * 99)\nsys.stderr.write('e' * 5000)\n"
    )
    with create(settings, "kernel-cap") as sb:
        sb.put_inputs([], script)
        result = sb.run(["python3", SCRIPT_PATH], timeout_s=60)
    assert result.ok, result.stderr.text
    assert result.stdout.data == (b"x" * 99 + b"\n") * 40 + b"x" * 96
    assert len(result.stdout.data) + result.stdout.dropped == 100 * 1000
    assert result.stdout.truncated
    assert result.stderr.data == b"e" * 4096 and result.stderr.dropped == 5000 - 4096


def test_kernel_mode_on_a_template_without_the_code_interpreter(
    e2b_env: Any, tmp_path: Path
) -> None:
    pytest.importorskip("e2b_code_interpreter")
    from promptkiln.errors import ImageError
    from promptkiln.sandbox.e2b import create

    settings = kernel_settings(e2b_env, tmp_path)
    settings = settings.model_copy(
        update={"e2b": settings.e2b.model_copy(update={"template": "promptkiln-docs"})}
    )
    with create(settings, "kernel-none") as sb:
        sb.put_inputs([], b"print(1)\n")
        with pytest.raises(ImageError, match="code-interpreter server"):
            sb.run(["python3", SCRIPT_PATH], timeout_s=30)


def test_the_stock_templates_packages_reach_the_system_prompt(e2b_env: Any, tmp_path: Path) -> None:
    pytest.importorskip("e2b_code_interpreter")
    from promptkiln.llm.prompts import render_system
    from promptkiln.sandbox import e2b_libraries

    e2b_libraries.forget()
    for kernel in (True, False):  # through run_code, and through a python3 command
        settings = kernel_settings(e2b_env, tmp_path / str(kernel))
        settings = settings.model_copy(
            update={"e2b": settings.e2b.model_copy(update={"kernel": kernel})}
        )
        assert e2b_libraries.wanted(settings)
        found = e2b_libraries.template_libraries(settings)
        assert found is not None and {"matplotlib", "pillow"} <= {n.lower() for n in found}
        cached = list((tmp_path / str(kernel) / "cache" / "e2b-libraries").glob("*.json"))
        assert len(cached) == 1
        e2b_libraries.forget()
        creates = e2b_env.requests.count(("POST", "/v2/sandboxes"))
        assert e2b_libraries.template_libraries(settings) == found  # from the file: no sandbox
        assert e2b_env.requests.count(("POST", "/v2/sandboxes")) == creates
        system = render_system(["png"], libraries=found)
        line = next(ln for ln in system.splitlines() if "packages are installed" in ln)
        assert "matplotlib" in line and "pillow (import PIL)" in line
    # promptkiln's own template keeps the usual list without any lookup
    own = load_settings(backend="e2b", e2b={"template": "promptkiln-docs"})
    assert e2b_libraries.template_libraries(own) is None


def test_make_on_the_stock_template_in_kernel_mode(e2b_env: Any, tmp_path: Path) -> None:
    """The whole path: the model is told the template's packages, its script runs in the kernel,
    the file is collected, validated and delivered."""
    pytest.importorskip("e2b_code_interpreter")
    from promptkiln.llm.generate import Generation, Message
    from promptkiln.making.make import make
    from promptkiln.sandbox import e2b_libraries

    e2b_libraries.forget()
    seen: list[list[Message]] = []
    script = (
        "import matplotlib.pyplot as plt\n"
        "plt.bar(['North', 'South'], [21, 28])\n"
        "plt.savefig('chart.png')\n"
        "print('chart.png written')\n"
    )

    class Scripted:
        def generate(self, messages: Any, *, on_token: Any = None) -> Generation:
            seen.append(list(messages))
            return Generation(f"```python\n{script}```\n", "scripted", None, None, 0.0, "stop")

    settings = kernel_settings(e2b_env, tmp_path)
    result = make(
        "a bar chart of revenue by region",
        formats=["png"],
        out=tmp_path / "out",
        settings=settings,
        generator=Scripted(),
    )
    assert [f.name for f in result.files] == ["chart.png"]
    assert (tmp_path / "out" / "chart.png").read_bytes().startswith(b"\x89PNG")
    system = seen[0][0]
    assert system.role == "system"
    line = next(ln for ln in system.content.splitlines() if "packages are installed" in ln)
    found = e2b_libraries.template_libraries(settings)
    assert found is not None
    from promptkiln.llm.libraries import library_line

    assert line.endswith(f"installed: {library_line(found)}.")
