"""Tenants and their API keys: create, look up by the key's hash, list, revoke.

A key is ``pk_`` + 40 random url-safe characters; only its sha256 is stored (the key has 240 bits
of entropy, so a plain hash is enough and lets a request be authorised by one indexed lookup).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from promptkiln.errors import UsageError
from promptkiln.records.store import Store
from promptkiln.server.db import dumps, loads, new_id

KEY_PREFIX = "pk_"


@dataclass(frozen=True)
class Caps:
    """Per-tenant caps. ``limits_ceiling`` maps a [limits] field to the most a job may ask."""

    max_active_jobs: int = 32
    jobs_per_hour: int = 1000
    upload_bytes_per_hour: int = 1024 * 2**20
    limits_ceiling: dict[str, float] | None = None


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    caps: Caps


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant and the key it used."""

    tenant: Tenant
    key_id: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _tenant(row: Any) -> Tenant:
    caps = Caps(
        row["max_active_jobs"],
        row["jobs_per_hour"],
        row["upload_bytes_per_hour"],
        loads(row["limits_ceiling"]) or None,
    )
    return Tenant(row["id"], row["name"], caps)


def ensure_tenant(store: Store, name: str, caps: Caps | None = None) -> Tenant:
    """The tenant named ``name``, created with ``caps`` if it is new (or updated when given)."""
    name = name.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise UsageError(f"{name!r} is not a tenant name", hint="use 1-100 printable characters")
    with store.write() as c:
        row = c.execute("SELECT * FROM tenants WHERE name = ?", (name,)).fetchone()
        if row is None:
            c.execute(
                "INSERT INTO tenants(id, name, created, max_active_jobs, jobs_per_hour, "
                "upload_bytes_per_hour, limits_ceiling) VALUES (?, ?, ?, ?, ?, ?, ?)",
                _caps_row(new_id("ten"), name, caps or Caps()),
            )
        elif caps is not None:
            c.execute(
                "UPDATE tenants SET max_active_jobs = ?, jobs_per_hour = ?, "
                "upload_bytes_per_hour = ?, limits_ceiling = ? WHERE id = ?",
                (*_caps_row(row["id"], name, caps)[3:], row["id"]),
            )
        row = c.execute("SELECT * FROM tenants WHERE name = ?", (name,)).fetchone()
    return _tenant(row)


def _caps_row(tid: str, name: str, caps: Caps) -> tuple[Any, ...]:
    return (
        tid,
        name,
        time.time(),
        caps.max_active_jobs,
        caps.jobs_per_hour,
        caps.upload_bytes_per_hour,
        dumps(caps.limits_ceiling or {}),
    )


def create_key(store: Store, tenant: Tenant) -> tuple[str, str]:
    """A new key for ``tenant``: (key id, the key). The key itself is not kept."""
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    key_id = new_id("key")
    with store.write() as c:
        c.execute(
            "INSERT INTO api_keys(id, tenant_id, key_hash, created) VALUES (?, ?, ?, ?)",
            (key_id, tenant.id, hash_key(key), time.time()),
        )
    return key_id, key


def authenticate(store: Store, key: str) -> Caller | None:
    """The caller a key belongs to, or None for an unknown or revoked key."""
    row = store.conn.execute(
        "SELECT k.id AS key_id, t.* FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
        "WHERE k.key_hash = ? AND k.revoked IS NULL",
        (hash_key(key),),
    ).fetchone()
    if row is None:
        return None
    return Caller(_tenant(row), row["key_id"])


def list_keys(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT k.id, k.created, k.revoked, t.name AS tenant FROM api_keys k "
        "JOIN tenants t ON t.id = k.tenant_id ORDER BY k.created"
    ).fetchall()
    return [dict(r) for r in rows]


def revoke_key(store: Store, key_id: str) -> None:
    with store.write() as c:
        cur = c.execute(
            "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
            (time.time(), key_id),
        )
        if cur.rowcount == 0:
            raise UsageError(
                f"no active key {key_id!r}", hint="see the key ids with `promptkiln keys list`"
            )


def any_keys(store: Store) -> bool:
    row = store.conn.execute("SELECT 1 FROM api_keys WHERE revoked IS NULL LIMIT 1").fetchone()
    return row is not None
