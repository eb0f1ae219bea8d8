"""The host-side steps of a build: run a command with its output as progress lines, and keep
only the newest version of a cached artefact."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from promptkiln.errors import ImageError

DEBOOTSTRAP_HINT = (
    "install it (`apt-get install debootstrap`, as root), or build on a machine that can reach "
    "a container registry"
)


Progress = Callable[[str], None]


def run_step(
    command: list[str], progress: Progress, what: str, env: dict[str, str] | None = None
) -> None:
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            command,
            env={**os.environ, **env} if env else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ImageError(f"could not start {what}: {exc}", hint=DEBOOTSTRAP_HINT) from exc
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-19:], line]
            if line:
                progress(f"{what}: {line}")
    if proc.returncode != 0:
        raise ImageError(
            f"{what} failed with exit status {proc.returncode}:\n" + "\n".join(tail),
            hint="check that the Debian mirror is reachable (set PROMPTKILN_DEBIAN_MIRROR to "
            "use another one) and that there is free disk space",
        )


def prune_older(keep: Path) -> None:
    """Remove the cache's older versions of ``keep`` (same name up to the last ``-``)."""
    prefix = keep.name.rsplit("-", 1)[0] + "-"
    for old in keep.parent.glob(prefix + "*"):
        if old != keep and not old.name.endswith((".partial", ".tmp")):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
