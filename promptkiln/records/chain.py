"""The run records' hash chain: appending under one lock, listing, and verifying.

``hash = sha256(prev_hash + "\\n" + body)``, ``body`` the record as canonical JSON; the head
(last seq and hash) is kept in ``runs_head`` in the append's transaction. On PostgreSQL appends
take ``pg_advisory_xact_lock(CHAIN_LOCK)`` so records written by several replicas at once still
form one chain; on SQLite ``BEGIN IMMEDIATE`` serialises them. :class:`RunChain` is the part of
:class:`~promptkiln.records.store.Store` that does this.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptkiln.records.blobs import BlobStore, PgBlobStore, sha256_hex

GENESIS = "0" * 64
#: pg_advisory_xact_lock key that serialises appends to the chain.
CHAIN_LOCK = 0x706B_0001


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body_json: str) -> str:
    return sha256_hex(f"{prev_hash}\n{body_json}".encode())


@dataclass(frozen=True)
class RunRecord:
    seq: int
    id: str
    created: float
    kind: str
    session_id: str | None
    body: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    first_bad_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BlobRef:
    """A blob to store and reference from a run record: inputs for replay, outputs to compare."""

    role: str  #: "input" or "output"
    name: str
    data: bytes


class RunChain:
    """Run-record methods of the store (mixed into :class:`~promptkiln.records.store.Store`)."""

    if TYPE_CHECKING:
        import sqlite3

        conn: sqlite3.Connection
        blobs: BlobStore | PgBlobStore

        def write(self, *, lock: int | None = None) -> AbstractContextManager[Any]: ...

        def _resolve(self, table: str, ref: str, what: str, listing: str) -> str: ...

    # -- run records -----------------------------------------------------------------------------

    def append_run(self, body: dict[str, Any], blobs: Sequence[BlobRef] = ()) -> RunRecord:
        """Append one record (``body`` needs ``id`` and ``kind``); store and reference its blobs."""
        body_json = canonical(body)
        created = time.time()
        with self.write(lock=CHAIN_LOCK) as c:
            row = c.execute("SELECT hash FROM runs_head WHERE id = 1").fetchone()
            prev = row[0] if row else GENESIS
            digest = chain_hash(prev, body_json)
            seq = int(
                c.execute(
                    "INSERT INTO runs(id, created, kind, session_id, body, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                    (
                        body["id"],
                        created,
                        body["kind"],
                        body.get("session_id"),
                        body_json,
                        prev,
                        digest,
                    ),
                ).fetchone()[0]
            )
            c.execute(
                "INSERT INTO runs_head(id, seq, hash) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (seq, digest),
            )
            for ref in blobs:
                sha = self.blobs.put(ref.data)
                c.execute(
                    "INSERT INTO run_blobs(run_id, session_id, role, name, sha256) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (body["id"], body.get("session_id"), ref.role, ref.name, sha),
                )
        return RunRecord(
            seq, body["id"], created, body["kind"], body.get("session_id"), body, prev, digest
        )

    def runs(self, *, limit: int | None = None, session_id: str | None = None) -> list[RunRecord]:
        """Records, newest first."""
        sql = "SELECT * FROM runs"
        args: list[Any] = []
        if session_id:
            sql += " WHERE session_id = ?"
            args.append(session_id)
        sql += " ORDER BY seq DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [_record(r) for r in self.conn.execute(sql, args)]

    def get_run(self, ref: str) -> RunRecord:
        run_id = self._resolve("runs", ref, "run", "promptkiln runs")
        return _record(self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone())

    def run_blobs(self, run_id: str) -> list[tuple[str, str, str]]:
        """(role, name, sha256) of the blobs a record references (those still kept)."""
        rows = self.conn.execute(
            "SELECT role, name, sha256 FROM run_blobs WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def verify(self) -> VerifyReport:
        """Recompute the chain; report the first record whose hash or link does not match."""
        prev = GENESIS
        checked = 0
        last_seq = 0
        for r in self.conn.execute("SELECT * FROM runs ORDER BY seq"):
            checked += 1
            last_seq = r["seq"]
            problem = None
            if r["prev_hash"] != prev:
                problem = (
                    "its link to the previous record is broken (a record was removed or edited)"
                )
            elif chain_hash(prev, r["body"]) != r["hash"]:
                problem = "its content does not match its hash (the record was edited)"
            else:
                try:
                    body = json.loads(r["body"])
                except ValueError:
                    body = {}
                if (body.get("id"), body.get("kind"), body.get("session_id")) != (
                    r["id"],
                    r["kind"],
                    r["session_id"],
                ):
                    problem = "its indexed columns disagree with its content (edited)"
            if problem:
                return VerifyReport(False, checked, r["seq"], r["id"], problem)
            prev = r["hash"]
        seq_row = self.conn.execute("SELECT seq FROM runs_head WHERE id = 1").fetchone()
        if seq_row and seq_row[0] > last_seq:
            return VerifyReport(
                False,
                checked,
                last_seq + 1,
                None,
                f"records {last_seq + 1}..{seq_row[0]} at the end are missing (deleted)",
            )
        return VerifyReport(True, checked)


def _record(row: Any) -> RunRecord:
    try:
        body = json.loads(row["body"])
    except ValueError:
        body = {}
    return RunRecord(
        row["seq"],
        row["id"],
        row["created"],
        row["kind"],
        row["session_id"],
        body,
        row["prev_hash"],
        row["hash"],
    )
