"""Raw output entries read from a local directory tree: :func:`dir_entries` walks it with
``lstat`` and directory file descriptors, opening files with ``O_NOFOLLOW | O_NONBLOCK`` and
re-checking them with ``fstat``, so neither a symlink nor a FIFO nor a device can be followed or
block. The content is hostile: a tree nested too deep to walk, or more entries than allowed, come
out as :class:`~promptkiln.sandbox.entries.RejectedEntry`, which
:func:`~promptkiln.sandbox.collect.collect` reports with its reason.

Entries are readable only while they are current: read a FILE entry before advancing the
iterator, and read it once (a second read continues where the first stopped).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from promptkiln.errors import OutputError
from promptkiln.sandbox.base import EntryKind, OutputEntry
from promptkiln.sandbox.entries import CHUNK_BYTES, MAX_DIRS, RejectedEntry

#: :func:`dir_entries` does not descend deeper than this (collection rejects far less anyway).
MAX_WALK_DEPTH = 32


_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


_O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def _kind_of(st_mode: int) -> EntryKind:
    if stat.S_ISREG(st_mode):
        return EntryKind.FILE
    if stat.S_ISDIR(st_mode):
        return EntryKind.DIR
    if stat.S_ISLNK(st_mode):
        return EntryKind.SYMLINK
    if stat.S_ISFIFO(st_mode):
        return EntryKind.FIFO
    if stat.S_ISCHR(st_mode):
        return EntryKind.CHARDEV
    if stat.S_ISBLK(st_mode):
        return EntryKind.BLOCKDEV
    if stat.S_ISSOCK(st_mode):
        return EntryKind.SOCKET
    return EntryKind.OTHER


class _DirEntry:
    def __init__(
        self, raw_name: str, kind: EntryKind, st: os.stat_result, dir_fd: int, leaf: str
    ) -> None:
        self.raw_name = raw_name
        self.kind = kind
        self.size = st.st_size
        self.mode = st.st_mode
        self._ident = (st.st_dev, st.st_ino)
        self._dir_fd = dir_fd
        self._leaf = leaf

    def read_chunks(self, limit: int) -> Iterator[bytes]:
        if self.kind is not EntryKind.FILE:
            return
        fd = os.open(self._leaf, _O_FILE, dir_fd=self._dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self._ident:
                raise OutputError(
                    f"{self.raw_name!r} changed while the outputs were being collected",
                    hint="collection runs only after the sandbox stopped; run again",
                )
            remaining = limit + 1
            while remaining > 0:
                chunk = os.read(fd, min(CHUNK_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
        finally:
            os.close(fd)

    def read(self, limit: int) -> bytes:
        return b"".join(self.read_chunks(limit))

    def __repr__(self) -> str:
        return f"<dir entry {self.raw_name!r} {self.kind.value} {self.size}>"


def dir_entries(
    root: Path,
    skip_dirs: tuple[str, ...] = ("inputs",),
    *,
    max_entries: int = 10_000,
) -> Iterator[OutputEntry]:
    """Yield the entries under ``root`` (which must be a real directory, not a link).

    Names are relative POSIX paths, in sorted order, depth first; ``skip_dirs`` at the top level
    are skipped. Symlinks are reported, never followed. A regular file with more than one link
    is a FILE the first time its inode is seen and a HARDLINK after that, as in a tar archive.
    Trees deeper than :data:`MAX_WALK_DEPTH` and listings past ``max_entries`` come out as
    :class:`RejectedEntry`. Each entry is readable only until the iterator is advanced.
    """
    try:
        top = os.open(root, _O_DIR)
    except OSError as exc:
        raise OutputError(
            f"cannot open the output directory {str(root)!r}: {exc.strerror}"
        ) from exc
    seen: set[tuple[int, int]] = set()
    counts = [0, 0]  # non-directories, directories
    try:
        yield from _walk(top, "", 0, skip_dirs, seen, counts, max_entries)
    except _Stop:
        return
    finally:
        os.close(top)


class _Stop(Exception):
    pass


def _walk(
    dir_fd: int,
    prefix: str,
    depth: int,
    skip_dirs: tuple[str, ...],
    seen: set[tuple[int, int]],
    counts: list[int],
    max_entries: int,
) -> Iterator[OutputEntry]:
    with os.scandir(dir_fd) as it:
        names = sorted(e.name for e in it)
    for leaf in names:
        if depth == 0 and leaf in skip_dirs:
            continue
        rel = prefix + leaf
        try:
            st = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        kind = _kind_of(st.st_mode)
        if kind is EntryKind.DIR:
            counts[1] += 1
        else:
            counts[0] += 1
        if counts[0] > max_entries or counts[1] > MAX_DIRS:
            yield RejectedEntry(
                "(the remaining entries)",
                f"too many entries in the output: only the first {max_entries} were examined",
            )
            raise _Stop
        if kind is EntryKind.FILE and st.st_nlink > 1:
            ident = (st.st_dev, st.st_ino)
            if ident in seen:
                kind = EntryKind.HARDLINK
            seen.add(ident)
        yield _DirEntry(rel, kind, st, dir_fd, leaf)
        if kind is EntryKind.DIR:
            if depth + 1 >= MAX_WALK_DEPTH:
                yield RejectedEntry(
                    rel + "/", "directory nested too deeply; its contents were not examined"
                )
                continue
            try:
                sub = os.open(leaf, _O_DIR, dir_fd=dir_fd)
            except OSError as exc:
                yield RejectedEntry(rel + "/", f"directory could not be opened: {exc.strerror}")
                continue
            try:
                yield from _walk(sub, rel + "/", depth + 1, skip_dirs, seen, counts, max_entries)
            finally:
                os.close(sub)
