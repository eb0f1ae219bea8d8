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

Sessions, turns and files: :mod:`promptkiln.records.session_tables`; run records and their chain:
:mod:`promptkiln.records.chain`; building them: :mod:`promptkiln.records.records`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from promptkiln.errors import PlatformError
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
from promptkiln.records.session_tables import NewFile, Row, SessionTables

# re-exported for the store's users
__all__ = [
    "GENESIS",
    "MIGRATIONS",
    "BlobRef",
    "BlobStore",
    "NewFile",
    "Row",
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


class Store(SessionTables, RunChain):
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


def open_store(settings: Any) -> Store:
    """The store ``settings`` configure: PostgreSQL at ``store_url``, else SQLite in ``home``."""
    return Store.open(settings.home, getattr(settings, "store_url", None))
