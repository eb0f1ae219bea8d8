"""The store: sessions, their versioned files, and the append-only, hash-chained run records.

One SQLite database (WAL mode) at ``<home>/promptkiln.db`` and a content-addressed blob store
beside it at ``<home>/blobs/ab/cdef…`` (sha256 of the bytes; written temp + rename). ``home`` is
``Settings.home``: ``$PROMPTKILN_HOME`` or the XDG data directory.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction, so two terminals serialise on
SQLite's write lock (``busy_timeout`` waits for it). A run record's hash is computed under that
lock from the previous record's hash, so concurrent appends still form one valid chain. Blobs are
written and referenced inside the same transaction that may delete them, so ``sessions rm``
cannot unlink a blob another process is just starting to use.

Run records: ``hash = sha256(prev_hash + "\\n" + body)``, ``body`` the record as canonical JSON.
SQLite triggers refuse UPDATE and DELETE on them; :meth:`Store.verify` recomputes the chain and
names the first record that does not match (an edit, a deletion in the middle, or a cut tail).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkiln.errors import PlatformError, UsageError

DB_NAME = "promptkiln.db"
GENESIS = "0" * 64
BUSY_TIMEOUT_MS = 60_000

#: Schema migrations: migration ``i`` brings the schema to version ``i + 1``. Append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions(
        id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT NOT NULL, api_base TEXT,
        backend TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
    CREATE TABLE turns(
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number INTEGER NOT NULL, status TEXT NOT NULL, prompt TEXT, prompt_sha256 TEXT NOT NULL,
        formats TEXT NOT NULL, script TEXT, problem TEXT, run_ids TEXT NOT NULL DEFAULT '[]',
        pid INTEGER, created REAL NOT NULL, finished REAL, PRIMARY KEY(session_id, number));
    CREATE TABLE files(
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name TEXT NOT NULL, version INTEGER NOT NULL, turn INTEGER NOT NULL, role TEXT NOT NULL,
        sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, media_type TEXT NOT NULL, delivered TEXT,
        created REAL NOT NULL, PRIMARY KEY(session_id, name, version));
    CREATE INDEX files_sha ON files(sha256);
    CREATE TABLE runs(
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created REAL NOT NULL,
        kind TEXT NOT NULL, session_id TEXT, body TEXT NOT NULL, prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL);
    CREATE INDEX runs_session ON runs(session_id);
    CREATE TRIGGER runs_no_update BEFORE UPDATE ON runs
        BEGIN SELECT RAISE(ABORT, 'run records are append-only'); END;
    CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
        BEGIN SELECT RAISE(ABORT, 'run records are append-only'); END;
    CREATE TABLE run_blobs(
        run_id TEXT NOT NULL, session_id TEXT, role TEXT NOT NULL, name TEXT NOT NULL,
        sha256 TEXT NOT NULL);
    CREATE INDEX run_blobs_sha ON run_blobs(sha256);
    CREATE INDEX run_blobs_run ON run_blobs(run_id);
    """,
    # 2: the server (promptkiln.server): tenants and their hashed API keys, the job queue and its
    # events, uploaded and produced files, idempotency keys, and which tenant owns a session or a
    # run record. Portable SQL (SQLite and PostgreSQL; times are DOUBLE PRECISION because REAL
    # is 4 bytes in PostgreSQL); every row carries its tenant.
    """
    CREATE TABLE tenants(
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created DOUBLE PRECISION NOT NULL,
        max_active_jobs INTEGER NOT NULL, jobs_per_hour INTEGER NOT NULL,
        upload_bytes_per_hour BIGINT NOT NULL, limits_ceiling TEXT NOT NULL);
    CREATE TABLE api_keys(
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        key_hash TEXT NOT NULL UNIQUE, created DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION, last_used DOUBLE PRECISION);
    CREATE TABLE jobs(
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, kind TEXT NOT NULL,
        status TEXT NOT NULL, request TEXT NOT NULL, session_id TEXT, result TEXT, error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0, worker TEXT, created DOUBLE PRECISION NOT NULL,
        started DOUBLE PRECISION, finished DOUBLE PRECISION);
    CREATE INDEX jobs_status ON jobs(status, created);
    CREATE INDEX jobs_tenant ON jobs(tenant_id, created);
    CREATE TABLE job_events(
        job_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL, PRIMARY KEY(job_id, seq));
    CREATE TABLE server_files(
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, job_id TEXT, role TEXT NOT NULL,
        name TEXT NOT NULL, size BIGINT NOT NULL, media_type TEXT NOT NULL, sha256 TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL);
    CREATE INDEX server_files_tenant ON server_files(tenant_id, created);
    CREATE INDEX server_files_job ON server_files(job_id);
    CREATE TABLE idempotency_keys(
        tenant_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_sha256 TEXT NOT NULL,
        job_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, PRIMARY KEY(tenant_id, idem_key));
    CREATE TABLE tenant_sessions(
        session_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
    CREATE INDEX tenant_sessions_tenant ON tenant_sessions(tenant_id);
    CREATE TABLE tenant_runs(
        run_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT, job_id TEXT,
        created DOUBLE PRECISION NOT NULL);
    CREATE INDEX tenant_runs_tenant ON tenant_runs(tenant_id, created);
    """,
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body_json: str) -> str:
    return sha256_hex(f"{prev_hash}\n{body_json}".encode())


class BlobStore:
    """Content-addressed files: ``root/ab/cdef…`` named by the sha256 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a sha256: {sha!r}")
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

    def all(self) -> Iterator[tuple[str, Path]]:
        if not self.root.is_dir():
            return
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                for f in sub.iterdir():
                    yield sub.name + f.name, f


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


@dataclass(frozen=True)
class NewFile:
    """A file a turn adds to its session's workspace."""

    name: str
    data: bytes
    role: str  #: "output" (the script made it) or "input" (the user gave it)
    media_type: str
    delivered: str | None  #: absolute path of the user's copy


class Store:
    """The database and the blob store under one home directory. Cheap to open; close it."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                self.home / DB_NAME, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise PlatformError(
                f"cannot open the promptkiln store in {self.home}: {exc}",
                hint="check the directory's permissions, or set PROMPTKILN_HOME",
            ) from exc
        self.conn.row_factory = sqlite3.Row
        self.blobs = BlobStore(self.home / "blobs")
        self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @classmethod
    def open(cls, home: Path) -> Store:
        return cls(home)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from its start (BEGIN IMMEDIATE)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self.write() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)")
            row = c.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if current > len(MIGRATIONS):
                raise PlatformError(
                    f"the store in {self.home} has schema version {current}, newer than this "
                    f"promptkiln understands ({len(MIGRATIONS)})",
                    hint="upgrade promptkiln, or point PROMPTKILN_HOME elsewhere",
                )
            for version in range(current, len(MIGRATIONS)):
                for statement in _statements(MIGRATIONS[version]):
                    c.execute(statement)
            if row is None:
                c.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                c.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT version FROM schema_version").fetchone()[0])

    # -- run records -----------------------------------------------------------------------------

    def append_run(self, body: dict[str, Any], blobs: Sequence[BlobRef] = ()) -> RunRecord:
        """Append one record (``body`` needs ``id`` and ``kind``); store and reference its blobs."""
        body_json = canonical(body)
        created = time.time()
        with self.write() as c:
            row = c.execute("SELECT hash FROM runs ORDER BY seq DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            digest = chain_hash(prev, body_json)
            cur = c.execute(
                "INSERT INTO runs(id, created, kind, session_id, body, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    body["id"],
                    created,
                    body["kind"],
                    body.get("session_id"),
                    body_json,
                    prev,
                    digest,
                ),
            )
            for ref in blobs:
                sha = self.blobs.put(ref.data)
                c.execute(
                    "INSERT INTO run_blobs VALUES (?, ?, ?, ?, ?)",
                    (body["id"], body.get("session_id"), ref.role, ref.name, sha),
                )
        seq = int(cur.lastrowid or 0)
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
        seq_row = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'runs'"
        ).fetchone()
        if seq_row and seq_row[0] > last_seq:
            return VerifyReport(
                False,
                checked,
                last_seq + 1,
                None,
                f"records {last_seq + 1}..{seq_row[0]} at the end are missing (deleted)",
            )
        return VerifyReport(True, checked)

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

    def session(self, session_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise UsageError(f"no session {session_id!r}", hint="see `promptkiln sessions`")
        return row

    def sessions(self) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT s.*, (SELECT count(DISTINCT name) FROM files f WHERE f.session_id = s.id "
            "AND f.role = 'output') AS nfiles, (SELECT count(*) FROM turns t WHERE "
            "t.session_id = s.id) AS nturns FROM sessions s ORDER BY updated DESC"
        ).fetchall()

    def turns(self, session_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM turns WHERE session_id = ? ORDER BY number", (session_id,)
        ).fetchall()

    def files(self, session_id: str) -> list[sqlite3.Row]:
        """Every version of every file, by name then version."""
        return self.conn.execute(
            "SELECT * FROM files WHERE session_id = ? ORDER BY name, version", (session_id,)
        ).fetchall()

    def workspace(self, session_id: str) -> list[sqlite3.Row]:
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
    ) -> list[sqlite3.Row]:
        """Close a turn; on success add its files as new versions (only those whose bytes
        changed) in the same transaction. Returns the new version rows."""
        now = time.time()
        added: list[sqlite3.Row] = []
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

    def file_bytes(self, row: sqlite3.Row) -> bytes | None:
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
            for sha, path in list(self.blobs.all()):
                if path.name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        if path.stat().st_mtime < time.time() - 3600:
                            path.unlink()
                elif not self._referenced(sha):
                    deleted += self.blobs.delete(sha)
        return old, deleted


def _statements(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement copes with triggers)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _record(row: sqlite3.Row) -> RunRecord:
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


# -- building run records -----------------------------------------------------------------------


def _content(text: str | None, full: bool) -> Any:
    """Text as recorded: itself, or only its hash and length when the config says so."""
    if text is None:
        return None
    return text if full else {"sha256": sha256_hex(text.encode()), "chars": len(text)}


def run_body(
    settings: Any,
    kind: str,
    *,
    run: Any = None,
    run_id: str | None = None,
    script: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    model: str | None = None,
    session_id: str | None = None,
    turn: int | None = None,
    attempt: int | None = None,
    problem: str | None = None,
    inputs: Sequence[Any] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One run record as a JSON-ready dict. ``run`` is a :class:`~promptkiln.pipeline.SandboxRun`
    (None when no script ran, e.g. the model's answer had no code); ``inputs`` are InputFiles;
    ``extra`` adds fields (the server's tenant, key id and job id)."""
    import dataclasses
    import datetime
    import getpass
    import uuid

    from promptkiln import __version__

    full = settings.record_content == "full"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    body: dict[str, Any] = {
        "id": run_id or (run.run_id if run is not None else uuid.uuid4().hex[:12]),
        "kind": kind,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "user": user,
        "promptkiln": __version__,
        "session_id": session_id,
        "turn": turn,
        "attempt": attempt,
        "model": model,
        "prompt": _content(prompt, full),
        "response": _content(response, full),
        "script": _content(script, full),
        "script_sha256": sha256_hex(script.encode()) if script is not None else None,
        "record_content": settings.record_content,
        "backend": settings.backend,
        "limits": dataclasses.asdict(settings.limits.to_limits()),
        "network": "internet"
        if settings.backend == "e2b" and settings.e2b.allow_internet
        else "none",
        "problem": problem,
        "inputs": [
            {"name": f.name, "bytes": len(f.data), "sha256": sha256_hex(f.data)} for f in inputs
        ],
        "sandbox": None,
        "outputs": [],
    }
    if run is not None:
        r, info = run.result, run.sandbox
        body["sandbox"] = {
            "backend": info.backend,
            "image": info.image,
            "image_id": info.extra.get("image_id"),
            "runtime": info.runtime,
            "network": info.network,
            "extra": dict(info.extra),
        }
        body["network"] = info.network
        body.update(
            exit_code=r.exit_code,
            termination=r.termination.value,
            duration_s=round(r.duration_s, 3),
            timings={k: round(v, 3) for k, v in run.timings.items()},
            stdout={"text": _content(r.stdout.text, full), "dropped": r.stdout.dropped},
            stderr={"text": _content(r.stderr.text, full), "dropped": r.stderr.dropped},
            outputs=[
                {"name": a.name, "bytes": a.size, "type": a.media_type, "sha256": a.sha256}
                for a in run.artifacts
            ],
            rejected=[{"name": x.name, "reason": x.reason} for x in run.rejections],
        )
    body.update(extra or {})
    return body


def output_blobs(run: Any) -> list[BlobRef]:
    """The delivered outputs of a run, read back from disk (skipping any that changed since)."""
    refs = []
    for a in getattr(run, "artifacts", ()):
        with contextlib.suppress(OSError):
            data = Path(a.path).read_bytes()
            if sha256_hex(data) == a.sha256:
                refs.append(BlobRef("output", a.name, data))
    return refs


def record_sandbox_run(
    settings: Any,
    kind: str,
    run: Any,
    *,
    script: str | None = None,
    inputs: Sequence[Any] = (),
    **extra: Any,
) -> RunRecord:
    """Record one ``promptkiln run``: the CLI's hook. With ``record_content = "full"`` the inputs
    and outputs are kept as blobs so ``runs replay`` can re-run and compare."""
    body = run_body(settings, kind, run=run, script=script, inputs=inputs, **extra)
    blobs: list[BlobRef] = []
    if settings.record_content == "full":
        blobs = [BlobRef("input", f.name, f.data) for f in inputs] + output_blobs(run)
    with Store.open(settings.home) as store:
        return store.append_run(body, blobs)
