"""Sessions, their turns and their versioned files: the part of the store that keeps them.

:class:`SessionTables` is mixed into :class:`~promptkiln.records.store.Store` (as
:class:`~promptkiln.records.chain.RunChain` is): every write is one transaction of the store's
``write()``; blobs are put and deleted in the transaction that references or unreferences them.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.errors import UsageError
from promptkiln.records.blobs import BlobStore, PgBlobStore, sha256_hex

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


class SessionTables:
    """Session, turn and file methods of the store."""

    if TYPE_CHECKING:
        import sqlite3

        conn: sqlite3.Connection
        blobs: BlobStore | PgBlobStore

        def write(self, *, lock: int | None = None) -> AbstractContextManager[Any]: ...

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
