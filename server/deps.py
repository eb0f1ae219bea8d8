"""What every route needs: the server's state, the authenticated caller, pagination."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from promptkiln.config import Settings
from promptkiln.records.store import Store
from promptkiln.server.db import store_for
from promptkiln.server.errors import ApiError
from promptkiln.server.metrics import Metrics
from promptkiln.server.tenants import Caller, authenticate
from promptkiln.server.worker import WorkerPool


@dataclass(frozen=True)
class ServerOptions:
    """How the server runs; ``promptkiln serve`` flags fill it."""

    workers: int = 2
    max_queue: int = 200
    max_upload_bytes: int = 100 * 2**20
    max_inputs: int = 100
    #: Models a job may name besides the configured one (a job cannot pick any model: that
    #: could send its data to a provider the operator did not choose).
    allowed_models: tuple[str, ...] = ()
    #: Engines a job may name besides the configured one (`--allow-engine`): a vendor engine
    #: sends the job's data to that vendor, so the operator opts in to each.
    allowed_engines: tuple[str, ...] = ()
    start_workers: bool = True
    drain_timeout_s: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServerState:
    settings: Settings
    options: ServerOptions
    metrics: Metrics
    pool: WorkerPool

    @property
    def home(self) -> Path:
        return self.settings.home

    def store(self) -> Store:
        return store_for(self.home)


def state(request: Request) -> ServerState:
    value: ServerState = request.app.state.promptkiln
    return value


def caller(request: Request) -> Caller:
    """The tenant and key of ``Authorization: Bearer <key>``; 401 without a valid one."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401,
            "missing_api_key",
            "no API key: send `Authorization: Bearer <key>`",
            hint="create a key with `promptkiln keys create --tenant NAME`",
        )
    found = authenticate(state(request).store(), key.strip())
    if found is None:
        raise ApiError(
            401,
            "invalid_api_key",
            "the API key is not valid (unknown or revoked)",
            hint="check the key, or create one with `promptkiln keys create --tenant NAME`",
        )
    request.state.tenant = found.tenant.name
    return found


def page(
    rows: Sequence[Any], limit: int, to_json: Callable[[Any], dict[str, Any]] = dict
) -> dict[str, Any]:
    """A list response: ``rows`` holds up to ``limit + 1`` items, the extra one means more."""
    return {
        "object": "list",
        "data": [to_json(r) for r in rows[:limit]],
        "has_more": len(rows) > limit,
    }
