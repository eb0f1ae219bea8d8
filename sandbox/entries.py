"""What the two raw-entry sources (:mod:`promptkiln.sandbox.tarentries`,
:mod:`promptkiln.sandbox.direntries`) share: entries that stream their bytes, the stand-in for an
entry that could not be examined, and the caps of a walk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from promptkiln.sandbox.base import EntryKind

#: Read in chunks of this many bytes.
CHUNK_BYTES = 1024 * 1024


#: Directory entries are not counted against ``max_entries``; they have this cap of their own.
MAX_DIRS = 100_000


@runtime_checkable
class ChunkedEntry(Protocol):
    """An entry that can stream its bytes, so collection never holds a whole file in memory."""

    def read_chunks(self, limit: int) -> Iterator[bytes]:
        """Yield the entry's bytes in chunks, at most ``limit`` + 1 bytes in all."""
        ...


class RejectedEntry:
    """A stand-in for entries that were not examined, carrying the reason."""

    kind = EntryKind.OTHER
    size = 0
    mode = 0

    def __init__(self, raw_name: str, reason: str) -> None:
        self.raw_name = raw_name
        self.reason = reason

    def read(self, limit: int) -> bytes:
        return b""

    def __repr__(self) -> str:
        return f"RejectedEntry({self.raw_name!r}, {self.reason!r})"
