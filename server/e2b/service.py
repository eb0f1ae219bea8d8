"""``promptkiln serve``'s E2B side: the fleet over the server's settings, its keys and records.

    E2B_API_URL=http://127.0.0.1:8080  E2B_SANDBOX_URL=http://127.0.0.1:8080
    E2B_API_KEY=pk_…   (a key from ``promptkiln keys create --tenant NAME``)

:func:`install` wraps the API app so the E2B requests reach the :class:`~.router.Router`, and
returns the lifespan that starts the fleet (adopting the sandboxes a previous run left) and
stops it. Templates: ``promptkiln-docs`` (the project's sandbox image) and
``code-interpreter-v1`` (the same image with the code-interpreter kernel running as the user).
A key's tenant gets sandboxes at most ``max_active_jobs`` at once and ``jobs_per_hour`` per hour;
internet only when the operator names the tenant with ``--e2b-allow-internet``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from promptkiln.config import Settings
from promptkiln.records.store import Store
from promptkiln.server.e2b.box import BoxSpec
from promptkiln.server.e2b.fleet import Fleet, Owner

TEMPLATES = {"promptkiln-docs": False, "code-interpreter-v1": True}
#: Seconds a key's answer is reused (a revoked key stops working within this).
AUTH_CACHE_S = 5.0


@dataclass(frozen=True)
class E2BOptions:
    """``promptkiln serve --e2b-…`` flags."""

    enabled: bool = True
    pool: int = 1
    max_sandboxes: int = 64
    allow_internet: tuple[str, ...] = ()


PID_FILE = "e2b-serve.pid"


def live_server(settings: Settings) -> frozenset[str]:
    """This home's server id if a ``promptkiln serve`` of it runs now (its pid file says so)."""
    import os

    try:
        pid = int((settings.home / PID_FILE).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return frozenset()
    return frozenset({server_id(settings)})


def server_id(settings: Settings) -> str:
    """Which server a sandbox belongs to: its home (and store), so servers never adopt each
    other's sandboxes."""
    where = f"{settings.home.resolve()}|{settings.store_url or ''}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


class KeyAuth:
    """A promptkiln API key -> the :class:`Owner` of its sandboxes (None: unknown or revoked)."""

    def __init__(self, open_store: Callable[[], Store], allow_internet: tuple[str, ...]) -> None:
        self._open_store = open_store
        self._internet = set(allow_internet)
        self._cache: dict[str, tuple[float, Owner | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str) -> Owner | None:
        from promptkiln.server.tenants import authenticate, hash_key

        if not key:
            return None
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        store = self._open_store()
        try:
            caller = authenticate(store, key)
        finally:
            store.close()
        owner = None
        if caller is not None:
            t = caller.tenant
            owner = Owner(
                t.id,
                caller.key_id,
                t.name,
                max_sandboxes=t.caps.max_active_jobs,
                per_hour=t.caps.jobs_per_hour,
                internet=t.name in self._internet,
            )
        with self._lock:
            self._cache[digest] = (now + AUTH_CACHE_S, owner)
        return owner


def build(settings: Settings, options: E2BOptions) -> tuple[Fleet, KeyAuth]:
    from promptkiln.server.e2b.runs import Recorder

    def open_store() -> Store:
        return Store.open(settings.home, settings.store_url)

    limits = settings.limits
    spec = BoxSpec(
        image=settings.image,
        runtime=settings.runtime,
        memory=int(limits.memory),
        cpus=limits.cpus,
        pids=max(limits.pids, 128),
    )
    fleet = Fleet(
        spec,
        server=server_id(settings),
        templates=TEMPLATES,
        max_sandboxes=options.max_sandboxes,
        pool_size=options.pool,
        recorder=Recorder(settings, open_store),
        state_dir=settings.home / "e2b-sandboxes",
    )
    return fleet, KeyAuth(open_store, options.allow_internet)


def install(
    app: Any, settings: Settings, options: E2BOptions
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Serve the E2B protocol from ``app`` (a FastAPI app); returns the fleet's lifespan."""
    from fastapi.concurrency import run_in_threadpool

    from promptkiln.server.e2b.asgi import E2BDispatch, WSGIBridge
    from promptkiln.server.e2b.router import Router
    from promptkiln.server.e2b.routes import router

    fleet, auth = build(settings, options)
    app.state.e2b_fleet = fleet
    app.include_router(router)
    bridge = WSGIBridge(Router(fleet, auth))
    app.add_middleware(E2BDispatch, e2b=bridge)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        import contextlib
        import os

        await run_in_threadpool(fleet.start)
        pid_file = settings.home / PID_FILE
        with contextlib.suppress(OSError):
            pid_file.write_text(str(os.getpid()))
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                pid_file.unlink()
            await run_in_threadpool(fleet.stop)

    return lifespan
