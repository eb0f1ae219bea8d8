"""Kernel mode's runner cell, run here the way a Jupyter kernel runs a cell (the statements,
then the last expression's value), in a fresh Python with a namespace of its own."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptkiln.errors import UsageError
from promptkiln.sandbox.e2b_kernel import runner_cell, without

KERNEL = r"""
import ast, sys
cell = sys.stdin.read()
tree = ast.parse(cell)
last = ast.Expression(tree.body.pop().value)
ns = {"__name__": "__main__", "kernel_state": 1}
exec(compile(tree, "<cell>", "exec"), ns)
value = eval(compile(last, "<cell>", "eval"), ns)
sys.stdout.flush()
print("\nVALUE=" + value, "STATE=%s" % ns.get("kernel_state"))
"""


def run(tmp_path: Path, script: str, *args: str) -> tuple[int, str, str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    path = tmp_path / "main.py"
    path.write_text(script)
    cell = runner_cell(["python3", str(path), *args], str(work), {"PK_TEST": "yes"})
    done = subprocess.run(
        [sys.executable, "-c", KERNEL], input=cell, capture_output=True, text=True, timeout=60
    )
    out, _, tail = done.stdout.rpartition("\nVALUE=")
    assert tail.endswith("STATE=1\n"), done.stderr  # the kernel's own namespace is untouched
    status, pid, start = tail.split()[0].split(":")[1:]
    assert int(pid) > 0 and int(start) > 0
    return int(status), out, done.stderr


def test_a_script_runs_as_main_in_the_work_dir_with_argv(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "print(__name__, os.getcwd(), sys.argv[1:], os.environ['PK_TEST'], 'kernel_state' in globals())\n"
        "open('out.txt', 'w').write('hi')\n"
    )
    status, out, err = run(tmp_path, script, "a b", "--c")
    assert status == 0, err
    assert out == f"__main__ {tmp_path / 'work'} ['a b', '--c'] yes False\n"
    assert (tmp_path / "work" / "out.txt").read_text() == "hi"


@pytest.mark.parametrize(
    ("script", "status", "needle"),
    [
        ("import sys\nsys.exit(4)\n", 4, ""),
        ("import sys\nsys.exit(None)\n", 0, ""),
        ("raise SystemExit('stop here')\n", 1, "stop here"),
        ("def f(:\n", 1, "SyntaxError"),
        ("x = 1\n\ndef g():\n    return 1 / 0\ng()\n", 1, "ZeroDivisionError: division by zero"),
    ],
)
def test_statuses_and_tracebacks_are_pythons(
    tmp_path: Path, script: str, status: int, needle: str
) -> None:
    code, _, err = run(tmp_path, script)
    assert code == status, err
    assert needle in err
    assert "__promptkiln_job" not in err
    if "ZeroDivision" in needle:
        assert err.startswith("Traceback (most recent call last):\n")
        assert f'File "{tmp_path / "main.py"}", line 5' in err


def test_non_daemon_threads_are_waited_for(tmp_path: Path) -> None:
    script = (
        "import threading, time\n"
        "def later():\n    time.sleep(0.3)\n    open('late.txt', 'w').write('done')\n"
        "threading.Thread(target=later).start()\n"
    )
    status, _, err = run(tmp_path, script)
    assert status == 0, err
    assert (tmp_path / "work" / "late.txt").read_text() == "done"


def test_only_python_scripts_run_in_the_kernel() -> None:
    with pytest.raises(UsageError, match="Python scripts only"):
        runner_cell(["bash", "-c", "true"], "/home/user/work", {})
    cell = runner_cell(["/usr/bin/python3", "/x.py"], "/w", {"A": "'\"\\n"})
    last = ast.parse(cell).body[-1]
    assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
    (loads,) = last.value.args
    assert isinstance(loads, ast.Call)
    spec = json.loads(ast.literal_eval(loads.args[0]))
    assert spec == {"argv": ["/x.py"], "cwd": "/w", "env": {"A": "'\"\\n"}}


def test_the_kernel_leaves_the_baseline() -> None:
    assert without("1:5 22:80 30:99", "22:80") == "1:5 30:99"
    assert without("1:5 22:80", "") == "1:5 22:80"
