"""The store: sessions, their versioned files, and the append-only, hash-chained run records.

Two engines behind one class (:mod:`promptkiln.records.dialect` translates the SQL):

- **SQLite** (the embedded default): one database (WAL mode) at ``<home>/promptkiln.db`` and a
  content-addressed blob store beside it at ``<home>/blobs/ab/cdef…``. ``home`` is
  ``Settings.home``: ``$PROMPTKILN_HOME`` or the XDG data directory.
- **PostgreSQL** when ``store_url = "postgresql://…"`` (config file or
  ``$PROMPTKILN_STORE_URL``): the same schema, built by the same migration list
  (:mod:`promptkiln.records.migrations`), with blobs in the ``blobs`` table so every server replica
  reads them.

Concurrency: every write is one transaction. On SQLite it is ``BEGIN IMMEDIATE``, so writers
serialise on SQLite's write lock (``busy_timeout`` waits for it). On PostgreSQL appends to the
run chain take a transaction-scoped advisory lock (``pg_advisory_xact_lock``), so records from
several processes or replicas still form one chain. A record's hash is computed under that lock
from the previous record's hash (kept in ``runs_head``). Blobs are written and referenced inside
the same transaction that may delete them, so ``sessions rm`` cannot unlink a blob another
process is just starting to use.

Run records and their chain: :mod:`promptkiln.records.chain`; building them: :mod:`promptkiln.records.records`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from promptkiln.errors import PlatformError, UsageError
from promptkiln.records import migrations
from promptkiln.records.blobs import BlobStore, PgBlobStore, sha256_hex
from promptkiln.records.chain import (
    GENESIS,
    BlobRef,
    RunChain,
    RunRecord,
    VerifyReport,
    canonical,
    chain_hash,
)
from promptkiln.records.dialect import PgConnection, redact

# re-exported for the store's users
__all__ = [
    "GENESIS",
    "MIGRATIONS",
    "BlobRef",
    "BlobStore",
    "RunRecord",
    "VerifyReport",
    "canonical",
    "chain_hash",
    "sha256_hex",
]

MIGRATIONS = migrations.MIGRATIONS
DB_NAME = "promptkiln.db"
BUSY_TIMEOUT_MS = 60_000
#: pg_advisory_xact_lock key that serialises migrations (the chain's is chain.CHAIN_LOCK).
MIGRATE_LOCK = 0x706B_0002

#: A result row: sqlite3.Row or dialect.PgRow (both answer by index and by column name).
Row = Any


@dataclass(frozen=True)
class NewFile:
    """A file a turn adds to its session's workspace."""

    name: str
    data: bytes
    role: str  #: "output" (the script made it) or "input" (the user gave it)
    media_type: str
    delivered: str | None  #: absolute path of the user's copy


class Store(RunChain):
    """The database and its blob store: SQLite under ``home`` or PostgreSQL at ``url``.
    Cheap to open; close it."""

    def __init__(self, home: Path, url: str | None = None) -> None:
        self.home = Path(home)
        self.url = url or None
        #: sqlite3.Connection, or a PgConnection that answers the same subset (execute,
        #: fetchone/fetchall, rowcount, rows by index and name): typed as the former.
        self.conn: sqlite3.Connection
        self.blobs: BlobStore | PgBlobStore
        if self.url:
            self.dialect = "postgresql"
            self.where = redact(self.url)
            self.conn = cast(sqlite3.Connection, PgConnection(self.url))
            self.blobs = PgBlobStore(self.conn, "store")
        else:
            self.dialect = "sqlite"
            self.where = str(self.home / DB_NAME)
            self.conn = self._open_sqlite()
            self.blobs = BlobStore(self.home / "blobs")
        try:
            self._migrate()
        except BaseException:
            self.conn.close()
            raise

    def _open_sqlite(self) -> sqlite3.Connection:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.home / DB_NAME, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise PlatformError(
                f"cannot open the promptkiln store in {self.home}: {exc}",
                hint="check the directory's permissions, or set PROMPTKILN_HOME",
            ) from exc
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @classmethod
    def open(cls, home: Path, url: str | None = None) -> Store:
        return cls(home, url)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def server_blobs(self) -> BlobStore | PgBlobStore:
        """The server's own blob namespace (uploads and job results)."""
        if self.dialect == "postgresql":
            return PgBlobStore(self.conn, "server")
        return BlobStore(self.home / "server-blobs")

    @contextlib.contextmanager
    def write(self, *, lock: int | None = None) -> Iterator[Any]:
        """One write transaction. SQLite: holding the write lock from its start (BEGIN
        IMMEDIATE). PostgreSQL: READ COMMITTED, plus the advisory lock ``lock`` if given."""
        self.conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        try:
            if lock is not None and self.dialect == "postgresql":
                self.conn.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _migrate(self, target: int | None = None) -> None:
        """Bring the schema to ``target`` (default: the newest) with the one migration list."""
        target = len(MIGRATIONS) if target is None else target
        with self.write(lock=MIGRATE_LOCK) as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)")
            row = c.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > len(MIGRATIONS):
                raise PlatformError(
                    f"the store {self.where} has schema version {current}, newer than this "
                    f"promptkiln understands ({len(MIGRATIONS)})",
                    hint="upgrade promptkiln, or point PROMPTKILN_HOME (or store_url) elsewhere",
                )
            if current >= target:
                return
            for version in range(current, target):
                for statement in migrations.statements(version, self.dialect):
                    c.execute(statement)
            if row is None:
                c.execute("INSERT INTO schema_version VALUES (?)", (target,))
            else:
                c.execute("UPDATE schema_version SET version = ?", (target,))

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT version FROM schema_version").fetchone()[0])

    # -- sessions --------------------------------------------------------------------------------

    def _resolve(self, table: str, ref: str, what: str, listing: str) -> str:
        """A full id from a unique prefix, like git."""
        ref = ref.strip().lower()
        if not ref or any(c not in "0123456789abcdefghijklmnopqrstuvwxyz-_" for c in ref):
            raise UsageError(f"{ref!r} is not a {what} id", hint=f"see the ids with `{listing}`")
        rows = self.conn.execute(
            f"SELECT id FROM {table} WHERE substr(id, 1, ?) = ? LIMIT 6", (len(ref), ref)
        ).fetchall()
        if not rows:
            raise UsageError(f"no {what} {ref!r}", hint=f"see the ids with `{listing}`")
        if len(rows) > 1:
            ids = ", ".join(r[0][:12] for r in rows)
            raise UsageError(
                f"{what} id {ref!r} is ambiguous: it starts {ids}", hint="type more characters"
            )
        return str(rows[0][0])

    def resolve_session(self, ref: str) -> str:
        return self._resolve("sessions", ref, "session", "promptkiln sessions")

    def last_session(self) -> str:
        row = self.conn.execute("SELECT id FROM sessions ORDER BY updated DESC LIMIT 1").fetchone()
        if row is None:
            raise UsageError("there are no sessions yet", hint='start one: promptkiln make "…"')
        return str(row[0])

    def session(self, session_id: str) -> Row:
        row: Row | None = self.conn.execute(
            "SELECT * FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise UsageError(f"no session {session_id!r}", hint="see `promptkiln sessions`")
        return row

    def sessions(self) -> list[Row]:
        return self.conn.execute(
            "SELECT s.*, (SELECT count(DISTINCT name) FROM files f WHERE f.session_id = s.id "
            "AND f.role = 'output') AS nfiles, (SELECT count(*) FROM turns t WHERE "
            "t.session_id = s.id) AS nturns FROM sessions s ORDER BY updated DESC"
        ).fetchall()

    def turns(self, session_id: str) -> list[Row]:
        return self.conn.execute(
            "SELECT * FROM turns WHERE session_id = ? ORDER BY number", (session_id,)
        ).fetchall()

    def files(self, session_id: str) -> list[Row]:
        """Every version of every file, by name then version."""
        return self.conn.execute(
            "SELECT * FROM files WHERE session_id = ? ORDER BY name, version", (session_id,)
        ).fetchall()

    def workspace(self, session_id: str) -> list[Row]:
        """The latest version of each file: what a follow-up turn starts from."""
        return self.conn.execute(
            "SELECT f.* FROM files f WHERE session_id = ? AND version = (SELECT max(version) "
            "FROM files g WHERE g.session_id = f.session_id AND g.name = f.name) ORDER BY name",
            (session_id,),
        ).fetchall()

    def create_session(
        self, session_id: str, title: str, model: str, api_base: str | None, backend: str
    ) -> None:
        now = time.time()
        with self.write() as c:
            c.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, title, model, api_base, backend, now, now),
            )

    def begin_turn(self, session_id: str, prompt: str, formats: Sequence[str], full: bool) -> int:
        """Open the next turn (status "running"); a killed process leaves it so, harmlessly."""
        now = time.time()
        with self.write() as c:
            row = c.execute(
                "SELECT coalesce(max(number), 0) FROM turns WHERE session_id = ?", (session_id,)
            ).fetchone()
            number = int(row[0]) + 1
            c.execute(
                "INSERT INTO turns(session_id, number, status, prompt, prompt_sha256, formats, "
                "pid, created) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    session_id,
                    number,
                    prompt if full else None,
                    sha256_hex(prompt.encode()),
                    json.dumps(list(formats)),
                    os.getpid(),
                    now,
                ),
            )
            c.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id))
        return number

    def end_turn(
        self,
        session_id: str,
        number: int,
        *,
        ok: bool,
        run_ids: Sequence[str],
        script: str | None = None,
        problem: str | None = None,
        files: Sequence[NewFile] = (),
        full: bool = True,
    ) -> list[Row]:
        """Close a turn; on success add its files as new versions (only those whose bytes
        changed) in the same transaction. Returns the new version rows."""
        now = time.time()
        added: list[Row] = []
        with self.write() as c:
            for f in files:
                sha = self.blobs.put(f.data) if full else sha256_hex(f.data)
                last = c.execute(
                    "SELECT version, sha256 FROM files WHERE session_id = ? AND name = ? "
                    "ORDER BY version DESC LIMIT 1",
                    (session_id, f.name),
                ).fetchone()
                if last is not None and last[1] == sha:
                    continue
                version = (last[0] if last else 0) + 1
                c.execute(
                    "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session_id,
                        f.name,
                        version,
                        number,
                        f.role,
                        sha,
                        len(f.data),
                        f.media_type,
                        f.delivered,
                        now,
                    ),
                )
                added.append(
                    c.execute(
                        "SELECT * FROM files WHERE session_id = ? AND name = ? AND version = ?",
                        (session_id, f.name, version),
                    ).fetchone()
                )
            c.execute(
                "UPDATE turns SET status = ?, script = ?, problem = ?, run_ids = ?, finished = ? "
                "WHERE session_id = ? AND number = ?",
                (
                    "ok" if ok else "failed",
                    script if full else None,
                    problem,
                    json.dumps(list(run_ids)),
                    now,
                    session_id,
                    number,
                ),
            )
            c.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id))
        return added

    def file_bytes(self, row: Row) -> bytes | None:
        """A file version's bytes: from the blob store, else from where it was delivered if
        that copy still has the recorded hash (record_content = "hashes" keeps no blobs)."""
        data = self.blobs.get(row["sha256"])
        if data is None and row["delivered"]:
            with contextlib.suppress(OSError):
                disk = Path(row["delivered"]).read_bytes()
                if sha256_hex(disk) == row["sha256"]:
                    data = disk
        return data

    def remove_session(self, session_id: str) -> int:
        """Delete a session, its turns and files, and every blob nothing else references.

        Its run records stay (they are append-only) but lose their blob references, so they keep
        names and hashes only. Returns the number of blobs deleted.
        """
        with self.write() as c:
            candidates = {
                r[0]
                for r in c.execute(
                    "SELECT sha256 FROM files WHERE session_id = ? UNION "
                    "SELECT sha256 FROM run_blobs WHERE session_id = ?",
                    (session_id, session_id),
                )
            }
            c.execute("DELETE FROM run_blobs WHERE session_id = ?", (session_id,))
            c.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            return sum(self.blobs.delete(sha) for sha in candidates if not self._referenced(sha))

    def _referenced(self, sha: str) -> bool:
        return bool(
            self.conn.execute(
                "SELECT 1 FROM files WHERE sha256 = ? UNION ALL "
                "SELECT 1 FROM run_blobs WHERE sha256 = ? LIMIT 1",
                (sha, sha),
            ).fetchone()
        )

    def gc(self, older_than_s: float) -> tuple[list[str], int]:
        """Remove sessions unused for ``older_than_s`` seconds and sweep unreferenced blobs
        (leftovers of killed processes). Returns (removed session ids, blobs deleted)."""
        cutoff = time.time() - older_than_s
        old = [
            r[0] for r in self.conn.execute("SELECT id FROM sessions WHERE updated < ?", (cutoff,))
        ]
        deleted = sum(self.remove_session(sid) for sid in old)
        with self.write():
            self.blobs.sweep_tmp()
            for sha in self.blobs.shas():
                if not self._referenced(sha):
                    deleted += self.blobs.delete(sha)
        return old, deleted


def open_store(settings: Any) -> Store:
    """The store ``settings`` configure: PostgreSQL at ``store_url``, else SQLite in ``home``."""
    return Store.open(settings.home, getattr(settings, "store_url", None))
