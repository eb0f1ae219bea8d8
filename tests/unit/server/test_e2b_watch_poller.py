"""The poller behind E2B's directory watches (envd_watch.POLLER), run here by this Python on a
temporary directory, as the sandbox runs it: envd's event names for what happens in between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkiln.server.e2b.envd_watch import POLLER


@pytest.fixture
def poller(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", POLLER, str(tmp_path), "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    yield proc
    proc.kill()
    proc.wait()


def _next(proc: subprocess.Popen[str]) -> list[list[str]]:
    """The next change the poller reports."""
    assert proc.stdout is not None
    events: list[list[str]] = json.loads(proc.stdout.readline())
    return events


def test_the_poller_names_envds_events(poller: subprocess.Popen[str], tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("a")
    assert _next(poller) == [["create", "f.txt"], ["write", "f.txt"]]
    os.chmod(tmp_path / "f.txt", 0o600)
    assert _next(poller) == [["chmod", "f.txt"]]
    with (tmp_path / "f.txt").open("a") as f:
        f.write("more")
    assert _next(poller) == [["write", "f.txt"]]
    (tmp_path / "f.txt").rename(tmp_path / "g.txt")  # fsnotify: the old name, then a create
    assert _next(poller) == [["rename", "f.txt"], ["create", "g.txt"]]
    (tmp_path / "sub").mkdir()
    assert _next(poller) == [["create", "sub"]]
    (tmp_path / "sub" / "x").touch()  # recursive: below the watched directory too
    assert _next(poller) == [["create", "sub/x"]]
    (tmp_path / "g.txt").unlink()
    assert _next(poller) == [["remove", "g.txt"]]
    assert poller.stdin is not None
    poller.stdin.close()  # the server closed the exec's connection (or went away)
    assert poller.wait(timeout=10) == 0


@pytest.mark.parametrize(("name", "code"), [("missing", 3), ("file", 4)])
def test_the_poller_refuses_what_is_not_a_directory(tmp_path: Path, name: str, code: int) -> None:
    (tmp_path / "file").touch()
    done = subprocess.run(
        [sys.executable, "-c", POLLER, str(tmp_path / name), "0"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == code
