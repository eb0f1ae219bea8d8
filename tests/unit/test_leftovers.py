"""Owned temp dirs: a dead owner's are swept, a live owner's and another host's are not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from promptkiln import leftovers


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sweep_removes_only_dead_owners_on_this_host(tmp_path: Path) -> None:
    host = socket.gethostname()
    dead = tmp_path / f"promptkiln-attempt-abc123.{dead_pid()}@{host}"
    live = tmp_path / f"promptkiln-attempt-abc124.{os.getpid()}@{host}"
    elsewhere = tmp_path / f"promptkiln-attempt-abc125.{dead_pid()}@not-{host}"
    staging = tmp_path / f".promptkiln-staging-abc126.{dead_pid()}@{host}"
    unrelated = tmp_path / "promptkiln-something"
    for d in (dead, live, elsewhere, staging, unrelated):
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "f.txt").write_text("x")
    removed = leftovers.sweep(tmp_path)
    assert sorted(removed) == sorted([dead.name, staging.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, elsewhere.name, unrelated.name]
    )


def test_sweep_by_fd_never_follows_links(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    out = tmp_path / "out"
    stale = out / f".promptkiln-staging-abc.{dead_pid()}@{socket.gethostname()}"
    stale.mkdir(parents=True)
    (stale / "link").symlink_to(victim)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert leftovers.sweep(dir_fd=fd) == [stale.name]
    finally:
        os.close(fd)
    assert not stale.exists()
    assert (victim / "keep.txt").read_text() == "keep"


def test_owned_tempdir_is_private_and_named_for_its_owner() -> None:
    path = leftovers.owned_tempdir("attempt")
    try:
        assert path.stat().st_mode & 0o777 == 0o700
        assert path.name.endswith(leftovers.owner_suffix())
        assert not leftovers.dead_owner(path.name)
    finally:
        path.rmdir()


def test_an_earlier_process_with_our_pid_and_host_is_told_apart_by_its_start() -> None:
    pid, host = os.getpid(), socket.gethostname()
    long_ago = str(int(leftovers.PROCESS_STARTED) - 3600)
    now = str(int(leftovers.PROCESS_STARTED) + 1)
    assert leftovers.earlier_incarnation(pid, host, long_ago)
    assert not leftovers.earlier_incarnation(pid, host, now)  # this process's own
    assert not leftovers.earlier_incarnation(pid, "other-host", long_ago)
    assert not leftovers.earlier_incarnation(pid + 1, host, long_ago)
    assert not leftovers.earlier_incarnation(pid, host, None)  # no label: never judged
