"""The job queue: every SQL statement about jobs and their events lives here.

Portable SQL (SQLite and PostgreSQL). :func:`claim_next_job` is the one place a worker takes
work; it is fair between tenants (the tenant with the fewest running jobs, then the one whose
last job started longest ago, goes first) and guarded by ``status = 'queued'`` in its UPDATE so
two claimers never take the same job; on PostgreSQL the candidate row is also locked with
``FOR UPDATE SKIP LOCKED``, so replicas claiming at once take different jobs without waiting.

A claimed job carries a lease (``lease_until``) that its replica's heartbeat renews
(:func:`heartbeat`); a replica that dies stops renewing, and any replica's heartbeat marks the
job interrupted once the lease has expired (:func:`expire_leases`). Queued jobs stay queued for
the survivors. Replicas record themselves in ``replicas`` (id, host, pid, last seen).

Writers that read before they write take turns on PostgreSQL, whose READ COMMITTED would let
them race (SQLite's ``BEGIN IMMEDIATE`` already serialises every write): a job's events are
numbered under the job's row lock, a submit counts the tenant's caps under the tenant's row lock,
and an Idempotency-Key is inserted ``ON CONFLICT DO NOTHING`` so a concurrent identical submit
gets the first one's job. The global ``max_queue`` bound is counted without a lock: replicas
submitting at the same instant may overshoot it by their number.

Statuses: queued -> running -> succeeded | unmet | failed | cancelled | interrupted; queued ->
cancelled; ``unmet``: the files were made but fail a requirement or content check (kept in the
session, not attached to the job unless the server runs with ``accept_unmet``);
running -> queued when the sandbox cluster refused the job's sandbox (:func:`requeue_job`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from promptkiln import leftovers
from promptkiln.records.store import Store
from promptkiln.server.db import dumps, new_id, page_rows
from promptkiln.server.errors import ApiError
from promptkiln.server.tenants import Caller

TERMINAL = ("succeeded", "unmet", "failed", "cancelled", "interrupted")
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
    admit: Callable[[int], None] | None = None,
) -> Submitted:
    """Queue a job for ``caller``, or return the job an earlier request with the same
    Idempotency-Key made. Raises 409 for a reused key with another body, 503 for a full queue,
    429 for a tenant over its caps; ``admit(queued jobs)`` may raise its own refusal (the
    replica's view of the sandbox cluster's capacity)."""
    tenant = caller.tenant
    digest = request_hash(kind, request)
    now = time.time()
    with store.write() as c:
        if store.dialect == "postgresql":
            # READ COMMITTED: without this, two submits of one tenant both count the caps
            # below and both pass. The tenant's row lock makes them take turns (SQLite's
            # BEGIN IMMEDIATE already does).
            c.execute("SELECT id FROM tenants WHERE id = ? FOR UPDATE", (tenant.id,))
        if idempotency_key is not None:
            earlier = _replay(c, tenant.id, idempotency_key, digest)
            if earlier is not None:
                return Submitted(earlier, False)
        queued = c.execute("SELECT count(*) FROM jobs WHERE status = 'queued'").fetchone()[0]
        if queued >= max_queue:
            raise ApiError(
                503,
                "queue_full",
                f"the job queue is full ({queued} jobs waiting)",
                hint="retry after the Retry-After seconds",
                headers={"Retry-After": "5"},
            )
        if admit is not None:
            admit(queued)
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
        if idempotency_key is not None:
            claimed = c.execute(
                "INSERT INTO idempotency_keys(tenant_id, idem_key, request_sha256, job_id, "
                "created) VALUES (?, ?, ?, ?, ?) ON CONFLICT(tenant_id, idem_key) DO NOTHING",
                (tenant.id, idempotency_key, digest, job_id, now),
            )
            if claimed.rowcount != 1:  # an identical submit committed first: answer its job
                earlier = _replay(c, tenant.id, idempotency_key, digest)
                if earlier is not None:
                    return Submitted(earlier, False)
        c.execute(
            "INSERT INTO jobs(id, tenant_id, key_id, kind, status, request, session_id, created) "
            "VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)",
            (job_id, tenant.id, caller.key_id, kind, dumps(request), session_id, now),
        )
        _event(c, job_id, "status", {"status": "queued"}, now)
        job = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Submitted(job, True)


def _replay(c: Any, tenant_id: str, key: str, digest: str) -> Any:
    """The job an earlier request with this Idempotency-Key made (409 if its body differed)."""
    row = c.execute(
        "SELECT request_sha256, job_id FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?",
        (tenant_id, key),
    ).fetchone()
    if row is None:
        return None
    if row["request_sha256"] != digest:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
            hint="use a new key for a new request",
        )
    return c.execute("SELECT * FROM jobs WHERE id = ?", (row["job_id"],)).fetchone()


def claim_next_job(store: Store, worker: str, lease_s: float = 30.0) -> sqlite3.Row | None:
    """Take the next queued job, fairly between tenants, and mark it running for ``worker``
    with a lease of ``lease_s`` seconds."""
    now = time.time()
    skip_locked = " FOR UPDATE OF j SKIP LOCKED" if store.dialect == "postgresql" else ""
    with store.write() as c:
        row = c.execute(
            "SELECT j.id FROM jobs j WHERE j.status = 'queued' ORDER BY "
            "(SELECT count(*) FROM jobs r WHERE r.tenant_id = j.tenant_id "
            " AND r.status = 'running'), "
            "(SELECT coalesce(max(r.started), 0) FROM jobs r WHERE r.tenant_id = j.tenant_id "
            " AND r.started IS NOT NULL), "
            "j.created, j.id LIMIT 1" + skip_locked
        ).fetchone()
        if row is None:
            return None
        cur = c.execute(
            "UPDATE jobs SET status = 'running', started = ?, worker = ?, lease_until = ? "
            "WHERE id = ? AND status = 'queued'",
            (now, worker, now + lease_s, row["id"]),
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


def requeue_job(store: Store, job_id: str, reason: dict[str, Any], most: int) -> bool:
    """Put a running job back in the queue, its place kept (its sandbox met a cluster at
    capacity before anything was recorded for it), unless it was put back ``most`` times
    already or a cancel was asked for. True if it was; the caller finishes it otherwise."""
    now = time.time()
    with store.write() as c:
        if store.dialect == "postgresql":
            c.execute("SELECT id FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
        done = c.execute(
            "SELECT count(*) FROM job_events WHERE job_id = ? AND type = 'requeued'", (job_id,)
        ).fetchone()[0]
        if done >= most:
            return False
        cur = c.execute(
            "UPDATE jobs SET status = 'queued', started = NULL, worker = NULL, "
            "lease_until = NULL WHERE id = ? AND status = 'running' AND cancel_requested = 0",
            (job_id,),
        )
        if cur.rowcount != 1:
            return False
        _event(c, job_id, "requeued", {**reason, "requeues": done + 1}, now)
        _event(c, job_id, "status", {"status": "queued"}, now)
    return True


def append_event(store: Store, job_id: str, type_: str, data: dict[str, Any]) -> None:
    with store.write() as c:
        _event(c, job_id, type_, data, time.time())


def _event(
    c: sqlite3.Connection, job_id: str, type_: str, data: dict[str, Any], now: float
) -> None:
    if getattr(c, "dialect", "sqlite") == "postgresql":
        # READ COMMITTED: two writers (the worker, a canceller, a heartbeat) would both read
        # the same max(seq). The job's row lock makes them take turns; SQLite's writes already
        # do. A transaction that updated the job holds this lock already.
        c.execute("SELECT id FROM jobs WHERE id = ? FOR UPDATE", (job_id,))
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


INTERRUPTED = {
    "code": "interrupted",
    "message": "the server stopped while this job ran; nothing was delivered",
    "hint": "submit the job again",
    "exit_code": 130,
}


def _interrupt(store: Store, job_id: str, now: float, extra_where: str = "") -> bool:
    with store.write() as c:
        cur = c.execute(
            "UPDATE jobs SET status = 'interrupted', error = ?, finished = ? "
            "WHERE id = ? AND status = 'running'" + extra_where,
            (dumps(INTERRUPTED), now, job_id, *((now,) if extra_where else ())),
        )
        if cur.rowcount:
            _event(c, job_id, "status", {"status": "interrupted", "error": INTERRUPTED}, now)
            return True
    return False


def mark_interrupted(store: Store) -> list[str]:
    """Jobs left running by a server process that is gone (on this host) or whose lease has
    expired (any host): mark them interrupted."""
    rows = store.conn.execute("SELECT id, worker FROM jobs WHERE status = 'running'").fetchall()
    now = time.time()
    done: list[str] = []
    for row in rows:
        pid, _, host = (row["worker"] or "").partition("@")
        if leftovers.owner_dead(pid, host) and _interrupt(store, row["id"], now):
            done.append(row["id"])
    return done + expire_leases(store)


def expire_leases(store: Store) -> list[str]:
    """Running jobs whose lease ran out (their replica stopped renewing it): interrupted."""
    now = time.time()
    rows = store.conn.execute(
        "SELECT id FROM jobs WHERE status = 'running' AND lease_until < ?", (now,)
    ).fetchall()
    return [r["id"] for r in rows if _interrupt(store, r["id"], now, " AND lease_until < ?")]


def heartbeat(
    store: Store, replica: str, job_ids: list[str], lease_s: float, started: float
) -> None:
    """Renew the leases of ``replica``'s running jobs and record that it was seen."""
    now = time.time()
    pid, _, host = replica.partition("@")
    with store.write() as c:
        for job_id in job_ids:
            c.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ? "
                "AND status = 'running'",
                (now + lease_s, job_id, replica),
            )
        c.execute(
            "INSERT INTO replicas(id, host, pid, started, last_seen) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET last_seen = excluded.last_seen",
            (replica, host, int(pid) if pid.isdigit() else 0, started, now),
        )


def replica_gone(store: Store, replica: str, lease_s: float) -> bool:
    """True when ``replica`` (pid@host) is a server replica that stopped heartbeating more
    than a lease ago. An unknown owner (a CLI run, say) is never declared gone."""
    row = store.conn.execute("SELECT last_seen FROM replicas WHERE id = ?", (replica,)).fetchone()
    return row is not None and float(row[0]) < time.time() - lease_s


def replicas_seen(store: Store, within_s: float = 60.0) -> list[sqlite3.Row]:
    return list(
        store.conn.execute(
            "SELECT * FROM replicas WHERE last_seen > ? ORDER BY id", (time.time() - within_s,)
        ).fetchall()
    )


def status_counts(store: Store) -> dict[str, int]:
    rows = store.conn.execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts
