"""A sandbox's filesystem as envd serves it: stat, list, make-dir, move, remove, read, write.

Entries are read with one ``find -printf`` per call (NUL-separated fields), run as the asking
user so the kernel's permissions decide; files move with Docker's archive API.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker.errors

from promptkiln.server.e2b.box import HOME, USERS, Box, BoxError

# One record per entry, nine NUL-terminated fields; names can hold anything but NUL.
_FIND_FORMAT = r"%y\0%Y\0%s\0%m\0%u\0%g\0%T@\0%l\0%p\0"
_FIELDS = 9  # %y %Y %s %m %u %g %T@ %l %p


@dataclass
class Entry:
    name: str
    path: str
    kind: str  # find's %y letter for the entry itself: f d l p s c b
    target_kind: str  # %Y: the type of what a symlink points at (N: nothing, L: loop)
    size: int
    mode: int
    owner: str
    group: str
    mtime: float
    link_target: str


def _find(box: Box, script: str, *argv: str, user: str) -> list[Entry]:
    code, out = box.exec_simple(["/bin/bash", "-c", script, "find-entries", *argv], user=user)
    if code == 3:
        raise BoxError("not_found", f"path not found: {argv[0]}")
    if code == 4:
        raise BoxError("invalid", f"path is not a directory: {argv[0]}")
    if code != 0:
        raise BoxError("internal", f"error reading {argv[0]}: {out[-300:]!r}")
    fields = out.split(b"\0")
    entries = []
    for i in range(0, len(fields) - 1, _FIELDS):
        y, yy, size, mode, owner, group, mtime, link, path = fields[i : i + _FIELDS]
        try:
            # Go's protojson refuses to marshal a string that is not UTF-8; so does envd.
            path_text = path.decode("utf-8")
            link_text = link.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BoxError("internal", f"string field contains invalid UTF-8: {exc}") from exc
        entries.append(
            Entry(
                name=path_text.rsplit("/", 1)[-1],
                path=path_text,
                kind=y.decode(),
                target_kind=yy.decode(),
                size=int(size),
                mode=int(mode, 8) & 0o777,
                owner=owner.decode(errors="replace"),
                group=group.decode(errors="replace"),
                mtime=float(mtime),
                link_target=link_text,
            )
        )
    return entries


def list_dir(box: Box, path: str, depth: int, *, user: str) -> list[Entry]:
    script = (
        'p=$(readlink -e -- "$1") || exit 3; [ -d "$p" ] || exit 4; '
        f'exec find "$p" -mindepth 1 -maxdepth "$2" -printf \'{_FIND_FORMAT}\''
    )
    return _find(box, script, path, str(depth), user=user)


def stat(box: Box, path: str, *, user: str) -> Entry:
    script = (
        '[ -e "$1" ] || [ -L "$1" ] || exit 3; '
        f"exec find \"$1\" -maxdepth 0 -printf '{_FIND_FORMAT}'"
    )
    entries = _find(box, script, path, user=user)
    return entries[0]


def make_dir(box: Box, path: str, *, user: str) -> Entry:
    try:
        entry = stat(box, path, user=user)
    except BoxError as exc:
        if exc.kind != "not_found":
            raise
    else:
        if entry.kind == "d":
            raise BoxError("exists", f"directory already exists: {path}")
        raise BoxError("invalid", f"path already exists but it is not a directory: {path}")
    code, out = box.exec_simple(["mkdir", "-p", "--", path], user=user)
    if code != 0:
        raise BoxError("internal", f"error creating directory: {out[-300:]!r}")
    return stat(box, path, user=user)


def remove(box: Box, path: str, *, user: str) -> None:
    code, out = box.exec_simple(["rm", "-rf", "--", path], user=user)
    if code != 0:
        raise BoxError("internal", f"error removing file or directory: {out[-300:]!r}")


def write_file(box: Box, path: str, data: bytes, *, user: str) -> None:
    if not path.startswith(HOME + "/"):
        raise BoxError("invalid", f"files can only be written under {HOME}: {path}")
    parent, _, name = path.rpartition("/")
    code, out = box.exec_simple(["mkdir", "-p", "--", parent], user=user)
    if code != 0:
        raise BoxError("internal", f"error creating parent directory: {out[-300:]!r}")
    uid = int(USERS[user].split(":")[0])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        info.mtime = int(time.time())
        info.uid = info.gid = uid
        tar.addfile(info, io.BytesIO(data))
    try:
        box.api().put_archive(box.container_id, parent, buf.getvalue())
    except docker.errors.APIError as exc:
        raise BoxError("internal", f"error writing file: {exc}") from exc


def read_file(box: Box, path: str, *, user: str, _depth: int = 0) -> tuple[int, Iterator[bytes]]:
    """Return the size and the bytes of a regular file, following symlinks as envd does."""
    api = box.api()
    try:
        chunks, info = api.get_archive(box.container_id, path, chunk_size=64 * 1024)
    except docker.errors.NotFound as exc:
        raise BoxError("not_found", f"file not found: {path}") from exc
    except docker.errors.APIError as exc:
        raise BoxError("internal", f"error reading file: {exc}") from exc
    mode = int(info.get("mode", 0))
    if info.get("linkTarget") and _depth < 8:
        _close(chunks)
        code, out = box.exec_simple(["readlink", "-e", "--", path], user=user)
        if code != 0:
            raise BoxError("not_found", f"file not found: {path}")
        return read_file(box, out.decode().rstrip("\n"), user=user, _depth=_depth + 1)
    if mode & (1 << 31):  # Go's os.ModeDir
        _close(chunks)
        raise BoxError("invalid", f"path is a directory: {path}")
    tar = tarfile.open(fileobj=_ChunkReader(chunks), mode="r|")  # noqa: SIM115 - closed with the response
    member = tar.next()
    if member is None or not member.isreg():
        _close(chunks)
        raise BoxError("invalid", f"path is not a regular file: {path}")
    handle = tar.extractfile(member)
    assert handle is not None

    def body() -> Iterator[bytes]:
        try:
            while True:
                block = handle.read(64 * 1024)
                if not block:
                    return
                yield block
        finally:
            _close(chunks)

    return member.size, body()


def _close(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def move(box: Box, source: str, destination: str, *, user: str) -> Entry:
    stat(box, source, user=user)  # not_found when it is not there
    code, out = box.exec_simple(["mv", "-T", "--", source, destination], user=user)
    if code != 0:
        raise BoxError("internal", f"error moving: {out[-300:]!r}")
    return stat(box, destination, user=user)
