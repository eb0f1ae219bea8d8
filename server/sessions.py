"""A tenant's sessions and run records, read from the store the CLI writes.

Which tenant owns a session or a run record is kept beside them (``tenant_sessions``,
``tenant_runs``); a session or a record of another tenant, or of the CLI, is never shown.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from promptkiln.records.store import Store
from promptkiln.server.db import page_rows, strip_prefix
from promptkiln.server.errors import not_found


def new_session_id() -> str:
    return uuid.uuid4().hex


def link_session(store: Store, session_id: str, tenant_id: str) -> None:
    with store.write() as c:
        c.execute(
            "INSERT INTO tenant_sessions(session_id, tenant_id, created) VALUES (?, ?, ?)",
            (session_id, tenant_id, time.time()),
        )


def unlink_session(store: Store, session_id: str) -> None:
    """Remove a session a job started and gave up (the job will start a new one)."""
    store.remove_session(session_id)
    with store.write() as c:
        c.execute("DELETE FROM tenant_sessions WHERE session_id = ?", (session_id,))


def link_run(store: Store, run_id: str, tenant_id: str, key_id: str, job_id: str) -> None:
    with store.write() as c:
        c.execute(
            "INSERT INTO tenant_runs(run_id, tenant_id, key_id, job_id, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (run_id, tenant_id, key_id, job_id, time.time()),
        )


def owned_session(store: Store, tenant_id: str, ref: str) -> str:
    """The store's session id for ``ses_…`` if the tenant owns it; 404 otherwise."""
    sid = strip_prefix(ref, "ses")
    row = None
    if sid is not None:
        row = store.conn.execute(
            "SELECT t.session_id FROM tenant_sessions t JOIN sessions s ON s.id = t.session_id "
            "WHERE t.session_id = ? AND t.tenant_id = ?",
            (sid, tenant_id),
        ).fetchone()
    if row is None:
        raise not_found("session", ref)
    return str(row[0])


def list_sessions(
    store: Store, tenant_id: str, *, limit: int, starting_after: str | None
) -> list[dict[str, Any]]:
    after = strip_prefix(starting_after or "", "ses")
    rows = page_rows(
        store,
        "SELECT s.* FROM sessions s JOIN tenant_sessions t ON t.session_id = s.id "
        "WHERE t.tenant_id = ?",
        [tenant_id],
        key="s.updated, s.id",
        after=after,
        after_key="SELECT updated, id FROM sessions WHERE id = ?",
        after_args=[after],
        limit=limit,
    )
    return [session_json(store, r, full=False) for r in rows]


def session_json(store: Store, row: Any, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"ses_{row['id']}",
        "object": "session",
        "title": row["title"],
        "model": row["model"],
        "created": row["created"],
        "updated": row["updated"],
    }
    if not full:
        return out
    out["turns"] = [
        {
            "number": t["number"],
            "status": t["status"],
            "prompt": t["prompt"],
            "formats": json.loads(t["formats"] or "[]"),
            "problem": t["problem"],
            "run_ids": [f"run_{r}" for r in json.loads(t["run_ids"] or "[]")],
            "created": t["created"],
            "finished": t["finished"],
        }
        for t in store.turns(row["id"])
    ]
    out["files"] = [
        {
            "name": f["name"],
            "version": f["version"],
            "turn": f["turn"],
            "role": f["role"],
            "size": f["bytes"],
            "media_type": f["media_type"],
            "sha256": f["sha256"],
        }
        for f in store.workspace(row["id"])
    ]
    out["jobs"] = [
        r[0]
        for r in store.conn.execute(
            "SELECT id FROM jobs WHERE session_id = ? ORDER BY created", (row["id"],)
        )
    ]
    return out


def list_runs(
    store: Store, tenant_id: str, *, limit: int, starting_after: str | None
) -> list[dict[str, Any]]:
    after = strip_prefix(starting_after or "", "run")
    rows = page_rows(
        store,
        "SELECT r.*, t.job_id, t.key_id FROM runs r JOIN tenant_runs t ON t.run_id = r.id "
        "WHERE t.tenant_id = ?",
        [tenant_id],
        key="r.seq",
        after=after,
        after_key="SELECT seq FROM runs WHERE id = ?",
        after_args=[after],
        limit=limit,
    )
    return [run_json(r) for r in rows]


def get_run(store: Store, tenant_id: str, ref: str) -> dict[str, Any]:
    rid = strip_prefix(ref, "run")
    row = None
    if rid is not None:
        row = store.conn.execute(
            "SELECT r.*, t.job_id, t.key_id FROM runs r JOIN tenant_runs t ON t.run_id = r.id "
            "WHERE r.id = ? AND t.tenant_id = ?",
            (rid, tenant_id),
        ).fetchone()
    if row is None:
        raise not_found("run", ref)
    return run_json(row, full=True)


def run_json(row: Any, *, full: bool = False) -> dict[str, Any]:
    body = json.loads(row["body"])
    out: dict[str, Any] = {
        "id": f"run_{row['id']}",
        "object": "run",
        "kind": row["kind"],
        "created": row["created"],
        "session_id": f"ses_{row['session_id']}" if row["session_id"] else None,
        "job_id": row["job_id"],
        "key_id": row["key_id"],
        "seq": row["seq"],
        "hash": row["hash"],
        "prev_hash": row["prev_hash"],
    }
    if full:
        out["record"] = body
    return out


def verify_runs(store: Store, tenant_id: str) -> dict[str, Any]:
    """Recompute the whole chain; name the first bad record only if it is the tenant's."""
    report = store.verify()
    mine = store.conn.execute(
        "SELECT count(*) FROM tenant_runs WHERE tenant_id = ?", (tenant_id,)
    ).fetchone()[0]
    first_bad = None
    if report.first_bad_id:
        owned = store.conn.execute(
            "SELECT 1 FROM tenant_runs WHERE run_id = ? AND tenant_id = ?",
            (report.first_bad_id, tenant_id),
        ).fetchone()
        first_bad = f"run_{report.first_bad_id}" if owned else None
    return {
        "ok": report.ok,
        "checked": int(mine),  #: the tenant's records (the chain's length is not the tenant's)
        "first_bad_run": first_bad,
        "reason": report.reason,
    }
