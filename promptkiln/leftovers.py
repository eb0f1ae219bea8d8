"""Owned temporary directories, and the sweep that removes those of dead processes.

A ``kill -9`` gives no process the chance to clean up. Every temporary directory promptkiln makes
therefore names its owner (pid and host), so the next command, or ``promptkiln gc``, can tell a
dead owner's leftovers from a live run's and remove only the former.

    promptkiln-<kind>-<random>.<pid>@<host>        under the temp directory (make, sessions)
    .promptkiln-staging-<random>.<pid>@<host>      inside --out while files are being delivered
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from pathlib import Path

#: Labels (Docker) and metadata (E2B) on every sandbox, so leftovers can be found and judged.
LABEL_KIND = "promptkiln.kind"
LABEL_RUN = "promptkiln.run"
LABEL_PID = "promptkiln.owner-pid"
LABEL_HOST = "promptkiln.owner-host"
LABEL_CREATED = "promptkiln.created"
LABEL_DEADLINE = "promptkiln.deadline"

#: When this process started, as far as its sandboxes go: none is labelled before this import.
PROCESS_STARTED = time.time()

_OWNED = re.compile(r"^\.?promptkiln-[a-z]+-[0-9a-f]+\.(?P<pid>\d+)@(?P<host>.+)$")


def owner_suffix() -> str:
    """``.<pid>@<host>``: who made a directory."""
    return f".{os.getpid()}@{socket.gethostname()}"


def owner_labels(run_id: str, deadline: float | None = None) -> dict[str, str]:
    """The labels that name a sandbox's run and owner (and, if given, when it is surely dead)."""
    labels = {
        LABEL_KIND: "sandbox",
        LABEL_RUN: run_id,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_CREATED: str(int(time.time())),
    }
    if deadline is not None:
        labels[LABEL_DEADLINE] = str(int(deadline))
    return labels


def owned_name(prefix: str) -> str:
    """A fresh directory name that carries its owner, e.g. ``promptkiln-attempt-1a2b.123@box``."""
    return f"{prefix}{secrets.token_hex(6)}{owner_suffix()}"


def owned_tempdir(kind: str) -> Path:
    """A new private (0700) directory under the temp directory, named for its owner."""
    root = Path(tempfile.gettempdir())
    while True:
        path = root / owned_name(f"promptkiln-{kind}-")
        try:
            path.mkdir(mode=0o700)
            return path
        except FileExistsError:
            continue


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (one we may not signal counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_dead(pid: str | int | None, host: str | None) -> bool:
    """True only when the owner (pid on host) is known to have exited: it ran on this host and
    its pid is gone, or the pid is unreadable. Another host's owner is never declared dead."""
    if host != socket.gethostname():
        return False
    try:
        number = int(pid or 0)
    except ValueError:
        return True
    return number != os.getpid() and not pid_alive(number)


def earlier_incarnation(pid: str | int | None, host: str | None, created: str | None) -> bool:
    """True for a sandbox labelled with this process's own pid and host but created before this
    process started: an earlier process that had the same pid (a server restarted as PID 1 in
    the same container or pod keeps both), so it is dead, not ours."""
    if host != socket.gethostname() or str(pid) != str(os.getpid()):
        return False
    try:
        return int(created or "") < int(PROCESS_STARTED) - 1  # labels keep whole seconds
    except ValueError:
        return False


def dead_owner(name: str) -> bool:
    """True when ``name`` is an owned directory whose owner, on this host, has exited."""
    match = _OWNED.match(name)
    return match is not None and owner_dead(match["pid"], match["host"])


def sweep(directory: Path | None = None, *, dir_fd: int | None = None) -> list[str]:
    """Remove dead owners' directories directly inside ``directory`` (default: the temp dir).

    With ``dir_fd`` the listing and removal happen relative to that open directory, so a link
    swapped in for the directory cannot redirect the removal. Returns the names removed.
    """
    removed: list[str] = []
    try:
        names = os.listdir(dir_fd if dir_fd is not None else (directory or tempfile.gettempdir()))
    except OSError:
        return removed
    for name in names:
        if not dead_owner(name):
            continue
        if dir_fd is not None:
            _rmtree_at(dir_fd, name)
        else:
            shutil.rmtree(Path(directory or tempfile.gettempdir()) / name, ignore_errors=True)
        removed.append(name)
    return removed


def _rmtree_at(dir_fd: int, name: str) -> None:
    """Remove ``name`` under ``dir_fd`` without following links (shutil.rmtree with dir_fd)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        return
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return
    try:
        for child in os.listdir(fd):
            _rmtree_at(fd, child)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=dir_fd)
