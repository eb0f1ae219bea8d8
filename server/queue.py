"""The job queue: every SQL statement about jobs and their events lives here.

Portable SQL (SQLite now, PostgreSQL later). :func:`claim_next_job` is the one place a worker
takes work; it is fair between tenants (the tenant with the fewest running jobs, then the one
whose last job started longest ago, goes first) and guarded by ``status = 'queued'`` in its
UPDATE so two claimers never take the same job (on PostgreSQL: ``FOR UPDATE SKIP LOCKED``).

Statuses: queued -> running -> succeeded | failed | cancelled | interrupted; queued -> cancelled.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from promptkiln import leftovers
from promptkiln.server.db import dumps, new_id, page_rows
from promptkiln.server.errors import ApiError
from promptkiln.server.tenants import Caller
from promptkiln.store import Store

TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
STATUSES = ("queued", "running", *TERMINAL)
HOUR = 3600.0


@dataclass(frozen=True)
class Submitted:
    job: sqlite3.Row
    created: bool  #: False when an Idempotency-Key replayed an earlier job


def request_hash(kind: str, request: dict[str, Any]) -> str:
    return hashlib.sha256(dumps({"kind": kind, "request": request}).encode()).hexdigest()


def submit(
    store: Store,
    caller: Caller,
    kind: str,
    request: dict[str, Any],
    *,
    idempotency_key: str | None,
    max_queue: int,
    session_id: str | None = None,
) -> Submitted:
    """Queue a job for ``caller``, or return the job an earlier request with the same
    Idempotency-Key made. Raises 409 for a reused key with another body, 503 for a full queue,
    429 for a tenant over its caps."""
    tenant = caller.tenant
    digest = request_hash(kind, request)
    now = time.time()
    with store.write() as c:
        if idempotency_key is not None:
            row = c.execute(
                "SELECT request_sha256, job_id FROM idempotency_keys "
                "WHERE tenant_id = ? AND idem_key = ?",
                (tenant.id, idempotency_key),
            ).fetchone()
            if row is not None:
                if row["request_sha256"] != digest:
                    raise ApiError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with a different request",
                        hint="use a new key for a new request",
                    )
                job = c.execute("SELECT * FROM jobs WHERE id = ?", (row["job_id"],)).fetchone()
                return Submitted(job, False)
        queued = c.execute("SELECT count(*) FROM jobs WHERE status = 'queued'").fetchone()[0]
        if queued >= max_queue:
            raise ApiError(
                503,
                "queue_full",
                f"the job queue is full ({queued} jobs waiting)",
                hint="retry after the Retry-After seconds",
                headers={"Retry-After": "5"},
            )
        active = c.execute(
            "SELECT count(*) FROM jobs WHERE tenant_id = ? AND status IN ('queued', 'running')",
            (tenant.id,),
        ).fetchone()[0]
        if active >= tenant.caps.max_active_jobs:
            raise ApiError(
                429,
                "too_many_active_jobs",
                f"you have {active} jobs queued or running; the cap is "
                f"{tenant.caps.max_active_jobs}",
                hint="wait for some to finish, then retry",
                headers={"Retry-After": "5"},
            )
        recent = c.execute(
            "SELECT count(*), min(created) FROM jobs WHERE tenant_id = ? AND created > ?",
            (tenant.id, now - HOUR),
        ).fetchone()
        if recent[0] >= tenant.caps.jobs_per_hour:
            wait = max(1, int(recent[1] + HOUR - now) + 1)
            raise ApiError(
                429,
                "too_many_jobs_per_hour",
                f"you submitted {recent[0]} jobs in the last hour; the cap is "
                f"{tenant.caps.jobs_per_hour}",
                hint=f"retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        job_id = new_id("job")
        c.execute(
            "INSERT INTO jobs(id, tenant_id, key_id, kind, status, request, session_id, created) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
            (job_id, tenant.id, caller.key_id, kind, dumps(request), session_id, now),
        )
        if idempotency_key is not None:
            c.execute(
                "INSERT INTO idempotency_keys(tenant_id, idem_key, request_sha256, job_id, "
                "created) VALUES (?, ?, ?, ?, ?)",
                (tenant.id, idempotency_key, digest, job_id, now),
            )
        _event(c, job_id, "status", {"status": "queued"}, now)
        job = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Submitted(job, True)


def claim_next_job(store: Store, worker: str) -> sqlite3.Row | None:
    """Take the next queued job, fairly between tenants, and mark it running for ``worker``."""
    now = time.time()
    with store.write() as c:
        row = c.execute(
            "SELECT j.id FROM jobs j WHERE j.status = 'queued' ORDER BY "
            "(SELECT count(*) FROM jobs r WHERE r.tenant_id = j.tenant_id "
            " AND r.status = 'running'), "
            "(SELECT coalesce(max(r.started), 0) FROM jobs r WHERE r.tenant_id = j.tenant_id "
            " AND r.started IS NOT NULL), "
            "j.created, j.id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        cur = c.execute(
            "UPDATE jobs SET status = 'running', started = ?, worker = ? "
            "WHERE id = ? AND status = 'queued'",
            (now, worker, row["id"]),
        )
        if cur.rowcount != 1:
            return None
        _event(c, row["id"], "status", {"status": "running"}, now)
        job: sqlite3.Row = c.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
    return job


def finish_job(
    store: Store,
    job_id: str,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    session_id: str | None = None,
) -> None:
    now = time.time()
    with store.write() as c:
        c.execute(
            "UPDATE jobs SET status = ?, result = ?, error = ?, finished = ?, "
            "session_id = coalesce(?, session_id) WHERE id = ? AND status = 'running'",
            (status, dumps(result or {}), dumps(error) if error else None, now, session_id, job_id),
        )
        _event(c, job_id, "status", {"status": status, "error": error}, now)


def append_event(store: Store, job_id: str, type_: str, data: dict[str, Any]) -> None:
    with store.write() as c:
        _event(c, job_id, type_, data, time.time())


def _event(
    c: sqlite3.Connection, job_id: str, type_: str, data: dict[str, Any], now: float
) -> None:
    seq = c.execute(
        "SELECT coalesce(max(seq), 0) + 1 FROM job_events WHERE job_id = ?", (job_id,)
    ).fetchone()[0]
    c.execute(
        "INSERT INTO job_events(job_id, seq, type, data, created) VALUES (?, ?, ?, ?, ?)",
        (job_id, seq, type_, dumps(data), now),
    )


def events_after(store: Store, job_id: str, after: int, limit: int = 500) -> list[sqlite3.Row]:
    return store.conn.execute(
        "SELECT seq, type, data, created FROM job_events WHERE job_id = ? AND seq > ? "
        "ORDER BY seq LIMIT ?",
        (job_id, after, limit),
    ).fetchall()


def get_job(store: Store, tenant_id: str, job_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = store.conn.execute(
        "SELECT * FROM jobs WHERE id = ? AND tenant_id = ?", (job_id, tenant_id)
    ).fetchone()
    return row


def job_status(store: Store, job_id: str) -> tuple[str, bool]:
    """(status, cancel requested) of a job, whoever owns it: for the worker running it."""
    row = store.conn.execute(
        "SELECT status, cancel_requested FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    return (row[0], bool(row[1])) if row else ("missing", True)


def list_jobs(
    store: Store, tenant_id: str, *, limit: int, starting_after: str | None
) -> list[sqlite3.Row]:
    """A tenant's jobs, newest first, ``limit + 1`` rows so the caller can say ``has_more``."""
    return page_rows(
        store,
        "SELECT * FROM jobs WHERE tenant_id = ?",
        [tenant_id],
        key="created, id",
        after=starting_after,
        after_key="SELECT created, id FROM jobs WHERE id = ? AND tenant_id = ?",
        after_args=[starting_after, tenant_id],
        limit=limit,
    )


def request_cancel(store: Store, tenant_id: str, job_id: str) -> str:
    """Cancel a queued job at once, or flag a running one for its worker. Returns the status."""
    now = time.time()
    with store.write() as c:
        cur = c.execute(
            "UPDATE jobs SET status = 'cancelled', finished = ? "
            "WHERE id = ? AND tenant_id = ? AND status = 'queued'",
            (now, job_id, tenant_id),
        )
        if cur.rowcount:
            _event(c, job_id, "status", {"status": "cancelled", "error": None}, now)
            return "cancelled"
        c.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND tenant_id = ? "
            "AND status = 'running'",
            (job_id, tenant_id),
        )
        row = c.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return str(row[0])


def mark_interrupted(store: Store) -> list[str]:
    """Jobs left running by a server process that is gone: mark them interrupted."""
    rows = store.conn.execute("SELECT id, worker FROM jobs WHERE status = 'running'").fetchall()
    done: list[str] = []
    now = time.time()
    for row in rows:
        pid, _, host = (row["worker"] or "").partition("@")
        if not leftovers.owner_dead(pid, host):
            continue
        error = {
            "code": "interrupted",
            "message": "the server stopped while this job ran; nothing was delivered",
            "hint": "submit the job again",
            "exit_code": 130,
        }
        with store.write() as c:
            cur = c.execute(
                "UPDATE jobs SET status = 'interrupted', error = ?, finished = ? "
                "WHERE id = ? AND status = 'running'",
                (dumps(error), now, row["id"]),
            )
            if cur.rowcount:
                _event(c, row["id"], "status", {"status": "interrupted", "error": error}, now)
                done.append(row["id"])
    return done


def status_counts(store: Store) -> dict[str, int]:
    rows = store.conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts
