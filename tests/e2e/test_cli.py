"""The CLI as a user runs it: a real process, the real engine, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "integration" / "scripts"
CLI = [sys.executable, "-m", "promptkiln.cli"]
SALES = "region,revenue\nNorth,2100000\nSouth,2800000\nEast,3200000\nWest,3900000\n"


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """One `error:` line, and no traceback of promptkiln's own (a failed script's is shown)."""
    ours = proc.stderr.split("--- script stderr ---")[0]
    assert "Traceback" not in ours, proc.stderr
    assert "site-packages" not in proc.stderr, proc.stderr
    assert not re.search(r"[^.]promptkiln/\w+\.py", proc.stderr), proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(SCRIPTS / "chart.py", tmp_path / "chart.py")
    (tmp_path / "sales.csv").write_text(SALES)
    return tmp_path


def test_help_is_fast_and_lists_commands(workdir: Path) -> None:
    proc = cli("--help", cwd=workdir)
    assert proc.returncode == 0
    for command in ("run", "make", "doctor", "models", "image", "gc"):
        assert command in proc.stdout


def test_missing_script(workdir: Path) -> None:
    proc = cli("run", "nope.py", cwd=workdir)
    assert proc.returncode == 64
    assert_one_line_error(proc, "nope.py", "does not exist")


def test_unreadable_input(workdir: Path) -> None:
    proc = cli("run", "chart.py", "-i", "missing.csv", cwd=workdir)
    assert proc.returncode == 64
    assert_one_line_error(proc, "missing.csv")


def test_engine_not_running(workdir: Path) -> None:
    proc = cli(
        "run", "chart.py", cwd=workdir, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert proc.returncode == 70
    assert_one_line_error(proc, "Docker engine", "start")
    assert not (workdir / "out").exists()


@pytest.mark.docker
def test_image_missing_says_build_it(workdir: Path) -> None:
    proc = cli("run", "chart.py", cwd=workdir, env={"PROMPTKILN_IMAGE": "promptkiln-missing:none"})
    assert proc.returncode == 70
    assert_one_line_error(proc, "promptkiln image build")


@pytest.mark.docker
def test_readme_run_example(workdir: Path) -> None:
    """README: promptkiln run chart.py --input sales.csv --out ./out"""
    proc = cli("run", "chart.py", "--input", "sales.csv", "--out", "./out", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "out" / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("chart.png") and "image/png" in line
    assert "wrote chart.png with 4 bars" in proc.stderr


@pytest.mark.docker
def test_json_manifest_and_no_overwrite(workdir: Path) -> None:
    first = cli("run", "chart.py", "-i", "sales.csv", "-o", "out", "--json", cwd=workdir)
    assert first.returncode == 0, first.stderr
    manifest = json.loads(first.stdout)
    assert [f["name"] for f in manifest["files"]] == ["chart.png"]
    assert manifest["exit_code"] == 0 and manifest["rejected"] == []
    second = cli("run", "chart.py", "-i", "sales.csv", "-o", "out", "--json", cwd=workdir)
    names = [f["name"] for f in json.loads(second.stdout)["files"]]
    assert names != ["chart.png"] and names[0].startswith("chart")
    assert sorted(p.name for p in (workdir / "out").iterdir()) == sorted(["chart.png", names[0]])
    third = cli(
        "run", "chart.py", "-i", "sales.csv", "-o", "out", "--json", "--overwrite", cwd=workdir
    )
    assert [f["name"] for f in json.loads(third.stdout)["files"]] == ["chart.png"]


@pytest.mark.docker
def test_script_failure_exit_code_and_stderr_shown(workdir: Path) -> None:
    (workdir / "bad.py").write_text("raise ValueError('no data \\x1b[31m here')\n")
    proc = cli("run", "bad.py", cwd=workdir)
    assert proc.returncode == 1
    assert "ValueError" in proc.stderr
    assert "\x1b" not in proc.stderr
    assert_one_line_error(proc, "exited with status 1")


@pytest.mark.docker
def test_timeout_exit_code(workdir: Path) -> None:
    (workdir / "slow.py").write_text("import time\ntime.sleep(100)\n")
    proc = cli("run", "slow.py", "--timeout", "2", cwd=workdir)
    assert proc.returncode == 124
    assert_one_line_error(proc, "2 s", "--timeout")


@pytest.mark.docker
def test_no_files_exit_code(workdir: Path) -> None:
    (workdir / "quiet.py").write_text("print('nothing to see')\n")
    proc = cli("run", "quiet.py", cwd=workdir)
    assert proc.returncode == 65
    assert_one_line_error(proc, "wrote no files")


@pytest.mark.docker
def test_out_is_a_symlink(workdir: Path) -> None:
    (workdir / "real").mkdir()
    (workdir / "out").symlink_to(workdir / "real")
    proc = cli("run", "chart.py", "-i", "sales.csv", "-o", "out", cwd=workdir)
    assert proc.returncode == 73
    assert_one_line_error(proc, "link")
    assert list((workdir / "real").iterdir()) == []


@pytest.mark.docker
def test_doctor_reports_engine_image_and_isolation(workdir: Path) -> None:
    proc = cli("doctor", cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "docker engine" in proc.stdout
    assert "isolation" in proc.stdout
    assert "sandbox image" in proc.stdout


BROKEN_BACKEND = """
import sys
from promptkiln.cli.main import main
from promptkiln.sandbox import register_backend

class Broken:
    def __init__(self, settings, run_id):
        from promptkiln.sandbox.base import SandboxInfo
        self.info = SandboxInfo(backend="broken", image="-", runtime="-")
    def start(self):
        raise RuntimeError("a third-party backend with a bug")
    def close(self):
        pass

register_backend("broken", Broken)
main(sys.argv[1:])
"""


def test_a_bug_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("open('a.txt','w').write('x')\n")
    argv = [sys.executable, "-c", BROKEN_BACKEND, "run", "s.py", "--backend", "broken"]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 70
    assert_one_line_error(proc, "internal error", "RuntimeError", "PROMPTKILN_DEBUG=1")
    debug = subprocess.run(
        argv,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PROMPTKILN_DEBUG": "1"},
    )
    assert "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("args", "exit_code", "needle"),
    [
        (["make", "a chart", "-f", "exe"], 64, "unsupported output format 'exe'"),
        (["make", "a chart", "-f", "png", "-i", "missing.csv"], 64, "missing.csv does not exist"),
        (["make", "   ", "-f", "png"], 64, "say what to make"),
        (["make", "a chart of sales"], 64, "no output format requested"),
    ],
)
def test_bad_make_arguments_create_nothing(
    workdir: Path, args: list[str], exit_code: int, needle: str
) -> None:
    """Checked before a session is created or the model server is started."""
    home = workdir / "home"
    env = {"PROMPTKILN_HOME": str(home), "PROMPTKILN_MODEL": "openai/none",
           "PROMPTKILN_API_BASE": "http://127.0.0.1:9/v1"}  # fmt: skip
    proc = cli(*args, cwd=workdir, env=env)
    assert proc.returncode == exit_code, proc.stderr
    assert_one_line_error(proc, needle)
    assert "say what to change" not in proc.stderr
    listed = cli("sessions", "--json", cwd=workdir, env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout or "[]") in ([], {"data": []})
