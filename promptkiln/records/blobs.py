"""Content-addressed blob stores, named by the sha256 of their bytes.

:class:`BlobStore` keeps files in the data directory (``root/ab/cdef…``, written temp + rename)
for the SQLite store; :class:`PgBlobStore` keeps them in the PostgreSQL ``blobs`` table (a
``bytea`` per blob, in a namespace) so every replica reads the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(sha: str) -> None:
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"not a sha256: {sha!r}")


class BlobStore:
    """Content-addressed files: ``root/ab/cdef…`` named by the sha256 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha: str) -> Path:
        _check(sha)
        return self.root / sha[:2] / sha[2:]

    def put(self, data: bytes) -> str:
        sha = sha256_hex(data)
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return sha

    def get(self, sha: str) -> bytes | None:
        """The bytes, or None if missing or corrupted (a blob that fails its hash is not used)."""
        try:
            data = self.path(sha).read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        return data if sha256_hex(data) == sha else None

    def delete(self, sha: str) -> bool:
        try:
            self.path(sha).unlink()
            return True
        except FileNotFoundError:
            return False

    def shas(self) -> list[str]:
        """Every stored blob (not the temp files of writes in progress)."""
        return [sha for sha, path in self.all() if not path.name.startswith(".tmp-")]

    def all(self) -> Iterator[tuple[str, Path]]:
        if not self.root.is_dir():
            return
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                for f in sub.iterdir():
                    yield sub.name + f.name, f

    def sweep_tmp(self, older_than_s: float = 3600) -> None:
        """Remove temp files a killed writer left behind."""
        for _, path in list(self.all()):
            if path.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < time.time() - older_than_s:
                        path.unlink()


class PgBlobStore:
    """Blobs in the PostgreSQL ``blobs`` table, one namespace per user of them ("store" for
    sessions and run records, "server" for the server's uploads and results). Writes join the
    caller's transaction when one is open."""

    def __init__(self, conn: Any, namespace: str) -> None:
        self.conn = conn
        self.namespace = namespace

    def put(self, data: bytes) -> str:
        sha = sha256_hex(data)
        self.conn.execute(
            "INSERT INTO blobs(ns, sha256, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (self.namespace, sha, data),
        )
        return sha

    def get(self, sha: str) -> bytes | None:
        try:
            _check(sha)
        except ValueError:
            return None
        row = self.conn.execute(
            "SELECT data FROM blobs WHERE ns = ? AND sha256 = ?", (self.namespace, sha)
        ).fetchone()
        if row is None:
            return None
        data = bytes(row[0])
        return data if sha256_hex(data) == sha else None

    def delete(self, sha: str) -> bool:
        cur = self.conn.execute(
            "DELETE FROM blobs WHERE ns = ? AND sha256 = ?", (self.namespace, sha)
        )
        return bool(cur.rowcount)

    def shas(self) -> list[str]:
        rows = self.conn.execute("SELECT sha256 FROM blobs WHERE ns = ?", (self.namespace,))
        return [str(r[0]) for r in rows]

    def sweep_tmp(self, older_than_s: float = 3600) -> None:
        """Nothing to sweep: a blob row appears whole or not at all."""
