"""Fixtures for the collection tests: real tar streams built in memory, real directories."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class TarBuilder:
    """Build a tar archive the way ``docker get_archive`` shapes it: names under ``work/``."""

    prefix: str = "work/"
    format: int = tarfile.PAX_FORMAT
    members: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def add(
        self,
        name: str,
        data: bytes | None = b"",
        *,
        type: bytes = tarfile.REGTYPE,
        mode: int = 0o644,
        linkname: str = "",
        size: int | None = None,
        raw: bool = False,
        **attrs: object,
    ) -> TarBuilder:
        info = tarfile.TarInfo(name if raw else self.prefix + name)
        info.type = type
        info.mode = mode
        info.linkname = linkname
        info.mtime = 1_700_000_000
        info.size = len(data or b"") if size is None else size
        for key, value in attrs.items():
            setattr(info, key, value)
        self.members.append((info, data if type in (tarfile.REGTYPE, tarfile.AREGTYPE) else None))
        return self

    def file(self, name: str, data: bytes = b"x", **kw: object) -> TarBuilder:
        return self.add(name, data, **kw)  # type: ignore[arg-type]

    def dir(self, name: str) -> TarBuilder:
        return self.add(name, None, type=tarfile.DIRTYPE, mode=0o755)

    def bytes(self, *, root: bool = True) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=self.format) as tf:
            if root:
                root_info = tarfile.TarInfo(self.prefix.rstrip("/"))
                root_info.type = tarfile.DIRTYPE
                root_info.mode = 0o755
                tf.addfile(root_info)
            for info, data in self.members:
                tf.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def chunked(data: bytes, size: int = 4096) -> Iterator[bytes]:
    """Yield ``data`` in chunks, as docker-py's get_archive stream does."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.fixture
def tar() -> Callable[[], TarBuilder]:
    return TarBuilder


@pytest.fixture
def chunks() -> Callable[..., Iterator[bytes]]:
    return chunked


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """A destination that does not exist yet, inside a parent the tests can snapshot."""
    return tmp_path / "parent" / "out"


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes | str | None]]:
    """Every path under ``root`` with its type, mode and content (or link target)."""
    import os
    import stat

    out: dict[str, tuple[int, int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            content: bytes | str | None = None
            if stat.S_ISREG(st.st_mode):
                content = p.read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(p)
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, content)
    return out


@pytest.fixture
def snap() -> Callable[[Path], dict[str, tuple[int, int, bytes | str | None]]]:
    return snapshot
