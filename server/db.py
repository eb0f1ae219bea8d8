"""Store access for the server: one :class:`~promptkiln.records.store.Store` per thread, ids, blobs.

The server's tables are migration 2 of :data:`promptkiln.records.migrations.MIGRATIONS`. Uploaded and
produced files are kept in their own content-addressed blob namespace (``<home>/server-blobs``,
or the "server" namespace of the PostgreSQL ``blobs`` table) so ``promptkiln sessions gc`` never
removes a blob a job's file still needs. :func:`configure` tells this module which store
(``store_url``) belongs to a home; the app calls it at start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from promptkiln.records.blobs import BlobStore, PgBlobStore
from promptkiln.records.store import Store

_local = threading.local()
T = TypeVar("T")
log = logging.getLogger("promptkiln.server")
_urls: dict[str, str | None] = {}


def configure(home: Path, store_url: str | None) -> None:
    """Use the PostgreSQL store at ``store_url`` (None: SQLite in ``home``) for ``home``."""
    _urls[str(home)] = store_url


def store_for(home: Path) -> Store:
    """This thread's open store for ``home`` (SQLite connections stay in their thread).

    A PostgreSQL connection that was lost (the server restarted, the network dropped it) is
    replaced here: the statement that met the loss failed, the next one gets a new connection.
    While PostgreSQL is down this raises the store's PlatformError (the API answers 503)."""
    cache: dict[str, Store] | None = getattr(_local, "stores", None)
    if cache is None:
        cache = _local.stores = {}
    key = str(home)
    store = cache.get(key)
    if store is not None and connection_lost(store):
        del cache[key]
        with contextlib.suppress(Exception):
            store.close()
        store = None
    if store is None:
        store = cache[key] = Store.open(home, _urls.get(key))
    return store


def connection_lost(store: Store) -> bool:
    """True when the store's PostgreSQL connection is closed or broken (SQLite: never)."""
    raw = getattr(store.conn, "raw", None)
    return raw is not None and bool(raw.closed or raw.broken)


def through_outage(home: Path, work: Callable[[Store], T], *, for_s: float = 120.0) -> T:
    """``work(store)``, tried again on a fresh connection while the PostgreSQL store is
    unreachable (a restart), for up to ``for_s`` seconds. ``work`` must be safe to repeat: a
    transaction that met the outage was rolled back by the server."""
    deadline = time.monotonic() + for_s
    while True:
        try:
            return work(store_for(home))
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            if time.monotonic() > deadline:
                raise
            log.warning("the store is unreachable (%s); retrying", str(exc).strip()[:200])
            time.sleep(1.0)


def store_unreachable(exc: BaseException) -> bool:
    """The PostgreSQL store is down: a statement met the outage, or a new connection was
    refused (Store.open's PlatformError)."""
    from promptkiln.errors import PlatformError

    opening = isinstance(exc, PlatformError) and "PostgreSQL" in exc.message
    return opening or is_store_outage(exc)


def is_store_outage(exc: BaseException) -> bool:
    """An error that says the PostgreSQL store is unreachable (not a bad statement)."""
    return any(
        cls.__module__.startswith("psycopg")
        and cls.__name__ in ("OperationalError", "InterfaceError")
        for cls in type(exc).__mro__
    )


def close_thread_stores() -> None:
    for store in getattr(_local, "stores", {}).values():
        store.close()
    _local.stores = {}


def blobs_for(home: Path) -> BlobStore | PgBlobStore:
    return store_for(home).server_blobs()


def new_id(prefix: str) -> str:
    """A prefixed, unguessable id: ``job_…``, ``file_…``, ``key_…``."""
    return f"{prefix}_{secrets.token_hex(12)}"


def strip_prefix(ref: str, prefix: str) -> str | None:
    """The part after ``prefix_``, or None if ``ref`` does not carry that prefix."""
    head = f"{prefix}_"
    if not ref.startswith(head) or len(ref) <= len(head):
        return None
    rest = ref[len(head) :]
    if any(c not in "0123456789abcdefghijklmnopqrstuvwxyz-" for c in rest):
        return None
    return rest


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def page_rows(
    store: Store,
    select: str,
    args: list[Any],
    *,
    key: str,
    after: str | None,
    after_key: str,
    after_args: list[Any],
    limit: int,
) -> list[Any]:
    """One page of a list, newest first: ``select`` (with its WHERE) ordered by ``key``
    descending, after the row ``after_key`` finds, ``limit + 1`` rows so the caller can say
    ``has_more``. ``key`` and ``after_key`` are column lists, e.g. ``created, id``."""
    sql, values = select, list(args)
    if after:
        sql += f" AND ({key}) < ({after_key})"
        values += after_args
    desc = ", ".join(f"{col.strip()} DESC" for col in key.split(","))
    return store.conn.execute(f"{sql} ORDER BY {desc} LIMIT ?", [*values, limit + 1]).fetchall()
