"""Files into and out of a Docker sandbox through the engine's archive API.

In: one ``put_archive`` of ``work/inputs/*`` and ``.promptkiln/main.py`` into the volume (a
warm sandbox takes the script and small inputs on its job line instead: docker_warm.py).

Out: the container is *paused* first (cgroup freezer: every process stopped, orphans too), then
``get_archive`` of the working directory streams out as tar; nothing is extracted, the shared
collector decides what leaves. The stream is cut off past the scratch size plus header room:
only sparse files can make it longer, and the engine would otherwise stream their holes for
minutes. The warm interpreter's own tar of the directory goes through the same reader.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from promptkiln.errors import EngineError, SandboxError, UsageError
from promptkiln.sandbox.base import (
    HOME,
    INPUTS_DIR,
    SCRIPT_PATH,
    WORKDIR,
    InputFile,
    Limits,
    MiB,
    OutputEntry,
)
from promptkiln.sandbox.docker_engine import translate_errors
from promptkiln.sandbox.docker_parts import capped, tarinfo

#: Room over the scratch size for tar headers, padding and long-name records in the output
#: archive. Real file data cannot exceed the scratch size, so a longer archive means sparse files.
ARCHIVE_SLACK = 64 * MiB


def check_inputs_size(files: Sequence[InputFile], script: bytes, limits: Limits) -> int:
    """The inputs' total size; a UsageError when they would fill half the scratch space."""
    total = len(script) + sum(len(f.data) for f in files)
    if total > limits.disk_bytes // 2:
        raise UsageError(
            f"the inputs add up to {total / MiB:.1f} MiB, more than half the sandbox's "
            f"{limits.disk_bytes / MiB:.0f} MiB scratch space",
            hint="raise the disk limit (PROMPTKILN_LIMITS__DISK or [limits] disk) or pass fewer inputs",
        )
    return total


def input_archive(files: Sequence[InputFile], script: bytes) -> bytes:
    """The tar that ``put_archive`` unpacks at ``HOME``: the directories, inputs, the script."""
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        home_rel = WORKDIR.removeprefix(HOME + "/")
        script_rel = SCRIPT_PATH.removeprefix(HOME + "/")
        for dirname in (home_rel, f"{home_rel}/{INPUTS_DIR}", os.path.dirname(script_rel)):
            tar.addfile(tarinfo(dirname, tarfile.DIRTYPE, 0o755, 0, now))
        for f in files:
            info = tarinfo(
                f"{home_rel}/{INPUTS_DIR}/{f.name}", tarfile.REGTYPE, 0o644, len(f.data), now
            )
            tar.addfile(info, io.BytesIO(f.data))
        tar.addfile(
            tarinfo(script_rel, tarfile.REGTYPE, 0o644, len(script), now), io.BytesIO(script)
        )
    return buf.getvalue()


def put_archive(container: Any, data: bytes) -> None:
    with translate_errors("copying inputs into the sandbox"):
        ok = container.put_archive(HOME, data)
    if not ok:
        raise EngineError("the Docker engine did not accept the input files")


def freeze(container: Any) -> bool:
    """Pause the sandbox (every process stops, orphans too). True when this call paused it;
    False when it was paused already. Raises when it cannot be paused or is gone."""
    import docker.errors

    refused: Exception | None = None
    with translate_errors("stopping the sandbox's processes"):
        for attempt in range(3):
            try:  # one round trip when the sandbox runs, as it almost always does
                container.pause()
                return True
            except docker.errors.APIError as exc:
                container.reload()  # not running: paused already, or gone
                if container.status != "running" or attempt == 2:
                    refused = exc
                    break
                time.sleep(0.2)  # a busy engine can refuse a pause for a moment
        if container.status == "running":
            raise EngineError(f"the Docker engine could not pause the sandbox: {refused}")
        if container.status != "paused":
            raise SandboxError(
                f"the sandbox stopped unexpectedly (state {container.status})",
                hint="run again; if it repeats, check `promptkiln doctor`",
            )
    return False


def workdir_entries(chunks: Iterable[bytes], limits: Limits) -> Iterator[OutputEntry]:
    """The entries of a tar of the working directory (the engine's or the warm
    interpreter's), capped and read as hostile."""
    from promptkiln.sandbox.tarentries import tar_entries

    return tar_entries(
        capped(chunks, outputs_cap(limits)),
        strip_prefix=os.path.basename(WORKDIR) + "/",
        skip_dirs=(INPUTS_DIR,),
        max_entries=max_entries(limits),
    )


def outputs_cap(limits: Limits) -> int:
    """Bytes of working-directory tar :func:`workdir_entries` accepts."""
    return limits.disk_bytes + ARCHIVE_SLACK


def max_entries(limits: Limits) -> int:
    """Non-directory members :func:`workdir_entries` examines before it stops."""
    return limits.output_files * 4 + 64


__all__ = [
    "ARCHIVE_SLACK",
    "check_inputs_size",
    "freeze",
    "input_archive",
    "max_entries",
    "outputs_cap",
    "put_archive",
    "workdir_entries",
]


def single_file(chunks: Iterable[bytes], limit: int) -> bytes | None:
    """The one regular file in a ``get_archive`` tar of a file, or None if it is not one or is
    larger than ``limit`` bytes (the stream is not read past the limit and a header)."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > limit + 64 * 1024:
            return None
    with tarfile.open(fileobj=io.BytesIO(bytes(buf)), mode="r:") as tar:
        member = tar.next()
        if member is None or not member.isreg() or member.size > limit:
            return None
        f = tar.extractfile(member)
        return f.read(limit + 1) if f is not None else None
