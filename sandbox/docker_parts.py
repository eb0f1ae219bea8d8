"""Pieces of the Docker backend: the exec stream reader, the output-archive cap, resource
settings per runtime, and the Ctrl-C deferral used while a sandbox is removed."""

from __future__ import annotations

import signal
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from promptkiln.errors import OutputRejected
from promptkiln.sandbox.base import MiB

UID = 1000
#: The uid of the sandbox's PID 1 (tini and `sleep infinity`): unprivileged, and not the
#: script's, so the script can neither ptrace it nor read /proc/1/mem, environ or fd/.
INIT_UID = 1001


def keep_capped(buf: bytearray, chunk: bytes, cap: int) -> int:
    """Append what of ``chunk`` fits under ``cap`` to ``buf``; return the bytes dropped."""
    room = cap - len(buf)
    if room > 0:
        buf += chunk[:room]
    return max(0, len(chunk) - max(room, 0))


def keep_and_show(
    buf: bytearray, chunk: bytes, cap: int, sink: Callable[[str, bytes], None] | None, index: int
) -> int:
    """:func:`keep_capped`, and hand what was kept to the live-output ``sink`` (if any) as
    stream ``STREAMS[index]``; return the bytes dropped."""
    before = len(buf)
    dropped = keep_capped(buf, chunk, cap)
    if sink is not None and len(buf) > before:
        sink(STREAMS[index], bytes(buf[before:]))
    return dropped


STREAMS = ("stdout", "stderr")


class StreamReader(threading.Thread):
    """Drains a demuxed exec stream into two capped buffers; the rest is counted, not kept.
    What is kept also goes to ``sink`` as it comes (live output), when one is set."""

    def __init__(
        self, stream: Any, cap: int, sink: Callable[[str, bytes], None] | None = None
    ) -> None:
        super().__init__(name="promptkiln-exec-reader", daemon=True)
        self._stream = stream
        self._cap = cap
        self.sink = sink
        self.out = bytearray()
        self.err = bytearray()
        self.dropped = [0, 0]
        self.error: BaseException | None = None

    def _keep(self, index: int, buf: bytearray, chunk: bytes) -> None:
        self.dropped[index] += keep_and_show(buf, chunk, self._cap, self.sink, index)

    def run(self) -> None:
        try:
            for out, err in self._stream:
                if out:
                    self._keep(0, self.out, out)
                if err:
                    self._keep(1, self.err, err)
        except Exception as exc:  # reported by the owner; a closed stream ends here too
            self.error = exc


def tarinfo(name: str, kind: bytes, mode: int, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = int(mtime)
    info.uid = info.gid = UID
    info.uname = info.gname = "user"
    return info


def capped(chunks: Iterable[bytes], cap: int) -> Iterator[bytes]:
    """The archive stream, cut off with a clear error once it is longer than ``cap`` bytes."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > cap:
            raise OutputRejected(
                f"the working directory streamed out more than {cap / MiB:.0f} MiB, more than "
                "the sandbox's scratch space can hold: it has sparse files (a file size set "
                "with truncate or seek); nothing was delivered",
                hint="write ordinary files, each smaller than the disk limit",
            )
        yield chunk


def ulimits(disk_bytes: int, pids: int, runtime: str) -> list[Any]:
    import docker.types

    limits = [
        docker.types.Ulimit(name="nofile", soft=1024, hard=1024),
        docker.types.Ulimit(name="core", soft=0, hard=0),
        # No file may be larger than the scratch space; bounds sparse files (EFBIG past it).
        docker.types.Ulimit(name="fsize", soft=disk_bytes, hard=disk_bytes),
    ]
    if runtime == "runsc":
        # gVisor counts RLIMIT_NPROC in its own kernel, per sandbox: this is where the process
        # limit is enforced for it (fork fails with EAGAIN). Under runc it would count the
        # host uid's processes instead, so runc relies on the pids cgroup alone.
        limits.append(docker.types.Ulimit(name="nproc", soft=pids, hard=pids))
    return limits


def host_pids(pids: int, runtime: str) -> int:
    """The pids cgroup limit. Under gVisor the cgroup holds the runtime's own host threads (a
    few per sandboxed task on the ptrace platform), not the script's processes, and hitting it
    crashes the whole sandbox; the script's processes are bounded by RLIMIT_NPROC instead."""
    return pids * 8 if runtime == "runsc" else pids


def no_log() -> Any:
    """No container log: PID 1's stdout is open to the script (/proc/1/fd/1), and a json-file
    log of it is an unbounded write to the host's disk. The script's own output is read from
    the exec stream, capped, and never goes through the engine's log."""
    import docker.types

    return docker.types.LogConfig(type=docker.types.LogConfig.types.NONE)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Let cleanup finish through one Ctrl-C (or SIGTERM); a second one gives up at once.

    Only in the main thread (where Python delivers signals); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def later(signum: int, frame: Any) -> None:
        if pending:
            raise KeyboardInterrupt
        pending.append(signum)

    saved = {sig: signal.signal(sig, later) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    if pending:
        raise KeyboardInterrupt


__all__ = [
    "INIT_UID",
    "UID",
    "StreamReader",
    "capped",
    "host_pids",
    "interrupts_deferred",
    "keep_and_show",
    "no_log",
    "tarinfo",
    "ulimits",
]
