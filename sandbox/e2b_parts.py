"""Small parts of the ``e2b`` backend: the capped output buffers, a run's outcome, and the raw
entries of the working directory as envd's ListDir reports them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from promptkiln.errors import SandboxError
from promptkiln.sandbox.base import SANDBOX_ENV, CapturedStream, EntryKind

USER = "user"
#: Seconds a sandbox outlives the run's own timeout, for upload, collection and teardown.
LIFETIME_MARGIN_S = 120


class Capture:
    """Keeps the first ``cap`` bytes of a stream and counts the rest; what is kept also goes
    to the live-output ``sink`` as ``stream`` (the SDK's ``on_stdout``/``on_stderr`` call this
    while the command runs)."""

    def __init__(
        self, cap: int, sink: Callable[[str, bytes], None] | None = None, stream: str = "stdout"
    ) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0
        self._sink = sink
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        # The SDK hands output over as text (decoded with errors="replace"); keep it as UTF-8.
        chunk = text.encode("utf-8")
        with self._lock:
            room = self.cap - len(self.data)
            kept = chunk[: max(room, 0)]
            if kept:
                self.data += kept
            self.dropped += len(chunk) - len(kept)
            if kept and self._sink is not None:
                self._sink(self._stream, kept)

    def result(self) -> CapturedStream:
        with self._lock:
            return CapturedStream(bytes(self.data), self.dropped)


@dataclass
class Outcome:
    """What the worker thread of a run found out: the exit status, or the error it met; in
    kernel mode also the kernel's "pid:starttime" (the process the script ran in) and a note."""

    exit_code: int | None = None
    error: BaseException | None = None
    kernel: str = ""
    #: A line for stderr, added if the run ended on its own (not at the timeout).
    note: str = ""


class ChunkReader(Protocol):
    """What an entry needs of its sandbox (:class:`~promptkiln.sandbox.e2b.E2BSandbox`)."""

    def _read_chunks(self, path: str, limit: int) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class E2BEntry:
    """One raw entry of the working directory as envd's ListDir reported it."""

    raw_name: str
    kind: EntryKind
    size: int
    mode: int
    path: str
    _sandbox: ChunkReader

    def read(self, limit: int) -> bytes:
        return b"".join(self.read_chunks(limit))

    def read_chunks(self, limit: int) -> Iterator[bytes]:
        if self.kind is not EntryKind.FILE:
            raise SandboxError(f"refusing to read {self.raw_name!r}: not a regular file")
        return self._sandbox._read_chunks(self.path, limit)


def read_capped(stream: Any, limit: int) -> Iterator[bytes]:
    """The chunks of an envd byte stream, ``limit`` + 1 bytes at most; closes the stream."""
    left = limit + 1
    try:
        for chunk in stream:
            if not chunk:
                continue
            piece = bytes(chunk[:left])
            left -= len(piece)
            yield piece
            if left <= 0:
                return
    finally:
        stream.close()


def entry_kind(e2b: Any, info: Any) -> EntryKind:
    """The entry's own type. A symlink is a symlink whatever it points at: envd >= 0.6 puts the
    target's type in ``type`` and flags the link, and ``symlink_target`` is set for links."""
    if info.type == e2b.FileType.SYMLINK or info.symlink_target is not None:
        return EntryKind.SYMLINK
    if info.type == e2b.FileType.DIR:
        return EntryKind.DIR
    if info.type == e2b.FileType.FILE:
        return EntryKind.FILE
    return EntryKind.OTHER


__all__ = [
    "LIFETIME_MARGIN_S",
    "SANDBOX_ENV",
    "USER",
    "Capture",
    "E2BEntry",
    "Outcome",
    "entry_kind",
    "read_capped",
]
