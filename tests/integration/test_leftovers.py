"""Leftovers of dead runs: ``kill -9`` of the CLI mid-run leaves nothing after the next command.

A killed CLI cannot clean up after itself: its container, volume (and the processes in them)
stay until something finds them by label. ``promptkiln gc`` does, and so does the start-up sweep
of any next run. These tests kill the real CLI with SIGKILL at each stage and check from the
engine's side (labels, and host processes in the container's cgroup) that nothing survives the
next command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker]

CLI = [sys.executable, "-m", "promptkiln.cli"]
LABEL_PID = "promptkiln.owner-pid"


def labelled(pid: int) -> tuple[list[str], list[str]]:
    """Container ids and volume names whose owner label is ``pid``."""
    import docker

    client = docker.from_env()
    try:
        flt = {"label": f"{LABEL_PID}={pid}"}
        return (
            [c.id for c in client.containers.list(all=True, filters=flt)],
            [v.name for v in client.volumes.list(filters=flt)],
        )
    finally:
        client.close()


def processes_of(container_ids: list[str]) -> list[str]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if any(cid in (entry / "cgroup").read_text() for cid in container_ids):
                    alive.append(entry.name)
    return alive


def kill9_at(stage: str, script: str, cwd: Path, out: str = "out") -> int:
    """Start ``promptkiln run``, SIGKILL it as soon as its progress shows ``stage``; its pid."""
    p = subprocess.Popen(
        [*CLI, "run", script, "-o", out, "--timeout", "120"], cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, bufsize=1,
    )  # fmt: skip
    assert p.stderr is not None
    seen = []
    for line in p.stderr:
        seen.append(line)
        if stage in line:
            break
    else:
        pytest.fail("the CLI ended before " + stage + ":\n" + "".join(seen))
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    return p.pid


def wait_until_gone(pid: int, ids: list[str], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while True:
        containers, volumes = labelled(pid)
        procs = processes_of(ids)
        if not (containers or volumes or procs):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"left: containers {containers}, volumes {volumes}, processes {procs}")
        time.sleep(0.25)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "sleep.py").write_text(
        "import subprocess, time\n"
        "subprocess.Popen(['sleep', '300'])  # an orphan too\n"
        "time.sleep(300)\n"
    )
    (tmp_path / "ok.py").write_text("open('ok.txt', 'w').write('ok')\n")
    (tmp_path / "big.py").write_text(
        "import os\nfor i in range(2):\n"
        "    with open(f'big{i}.csv', 'wb') as f:\n"
        "        for _ in range(100):\n"
        "            f.write(os.urandom(1 << 20))\n"
    )
    return tmp_path


def test_kill9_mid_run_then_gc(work: Path) -> None:
    pid = kill9_at("running the script", "sleep.py", work)
    ids, volumes = labelled(pid)
    assert ids and volumes, "a SIGKILLed CLI should leave its sandbox (else this test is moot)"
    assert processes_of(ids), "the sandbox should still be running"
    gc = subprocess.run([*CLI, "gc"], cwd=work, capture_output=True, text=True, timeout=120)
    assert gc.returncode == 0, gc.stderr
    assert "removed" in gc.stdout
    wait_until_gone(pid, ids, within=5)  # H_NO_LEFTOVER: 5 s


def test_kill9_mid_run_then_the_next_run_sweeps(work: Path) -> None:
    pid = kill9_at("running the script", "sleep.py", work)
    ids, _ = labelled(pid)
    assert ids
    nxt = subprocess.run(
        [*CLI, "run", "ok.py", "-o", "out2"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert nxt.returncode == 0, nxt.stderr
    assert (work / "out2" / "ok.txt").read_text() == "ok"
    wait_until_gone(pid, ids)


def test_kill9_while_starting(work: Path) -> None:
    pid = kill9_at("starting the sandbox", "sleep.py", work)
    ids, _ = labelled(pid)
    subprocess.run([*CLI, "gc"], cwd=work, capture_output=True, timeout=120, check=True)
    wait_until_gone(pid, ids, within=5)  # H_NO_LEFTOVER: 5 s


def test_kill9_while_collecting_leaves_no_partial_files_after_the_next_run(work: Path) -> None:
    pid = kill9_at("collecting the files", "big.py", work)
    ids, _ = labelled(pid)
    nxt = subprocess.run(
        [*CLI, "run", "ok.py", "-o", "out"], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert nxt.returncode == 0, nxt.stderr
    wait_until_gone(pid, ids)
    left = sorted(p.name for p in (work / "out").iterdir())
    assert left == ["ok.txt"], f"partial files of the killed run remain in --out: {left}"


def test_gc_leaves_live_runs_alone(work: Path) -> None:
    """A sweep (gc without --all, or another run's start-up) never touches a run in progress."""
    p = subprocess.Popen(
        [*CLI, "run", "sleep.py", "-o", "out", "--timeout", "120"], cwd=work,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, bufsize=1,
    )  # fmt: skip
    assert p.stderr is not None
    try:
        for line in p.stderr:
            if "running the script" in line:
                break
        gc = subprocess.run([*CLI, "gc"], cwd=work, capture_output=True, text=True, timeout=120)
        assert gc.returncode == 0, gc.stderr
        ids, _ = labelled(p.pid)
        assert ids and processes_of(ids), "gc removed a live run"
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    wait_until_gone(p.pid, ids)


def test_kill9_of_make_then_gc_leaves_no_temp_dirs(openai_server: Any, work: Path) -> None:
    openai_server.enqueue("```python\nimport time\ntime.sleep(300)\n```\n")
    tmp = work / "tmpdir"
    tmp.mkdir()
    env = {
        **os.environ,
        "PROMPTKILN_MODEL": "openai/test-model",
        "PROMPTKILN_API_BASE": openai_server.url,
        "TMPDIR": str(tmp),
    }
    p = subprocess.Popen(
        [*CLI, "make", "a csv", "-f", "csv", "-o", "out"], cwd=work, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, bufsize=1,
    )  # fmt: skip
    assert p.stderr is not None
    for line in p.stderr:
        if "running the script" in line:
            break
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    ids, _ = labelled(p.pid)
    gc = subprocess.run([*CLI, "gc"], cwd=work, env=env, capture_output=True, timeout=120)
    assert gc.returncode == 0
    wait_until_gone(p.pid, ids, within=5)  # H_NO_LEFTOVER: 5 s after the command
    assert not (work / "out").exists()
    assert list(tmp.iterdir()) == [], f"temp dirs of the killed make: {list(tmp.iterdir())}"
