"""Which engine serves a request, and a fresh instance of it: routing, keys, session containers.

The loop that asks an engine and checks its files is :mod:`promptkiln.making.vendor` (it sits
above this room and uses these helpers).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from promptkiln.engine_settings import KEY_VARIABLES
from promptkiln.engines.base import Engine, EngineState
from promptkiln.engines.routing import Route, route, usability
from promptkiln.errors import ModelAuthError
from promptkiln.sandbox.base import InputFile

if TYPE_CHECKING:
    from promptkiln.config import Settings
    from promptkiln.records.store import Store


def route_for(settings: Settings, formats: Sequence[str], inputs: Sequence[InputFile]) -> Route:
    """The route of one request under ``settings`` (``engine``, ``offline``, the table)."""
    return route(
        settings.engine,
        settings.engines,
        offline=settings.offline,
        formats=formats,
        input_bytes=sum(len(f.data) for f in inputs),
    )


def open_engine(name: str, settings: Settings) -> Engine:
    """A fresh engine instance for one turn. Imports the vendor SDK only now."""
    state = usability(settings.engines, name)
    if state.sdk and not state.key:
        raise ModelAuthError(
            f"the {name} engine has no API key",
            hint=f"set {' or '.join(KEY_VARIABLES[name])} or [engines.{name}] api_key, "
            "or use --engine local",
        )
    if name == "claude":
        from promptkiln.engines.claude import ClaudeEngine

        return ClaudeEngine(settings.engines)
    if name == "openai":
        from promptkiln.engines.openai import OpenAIEngine

        return OpenAIEngine(settings.engines, settings.limits.memory)
    if name == "gemini":
        from promptkiln.engines.gemini import GeminiEngine

        return GeminiEngine(settings.engines)
    raise ValueError(f"no vendor engine named {name!r}")


def session_engine(store: Store, session_id: str) -> str | None:
    """The vendor engine of the session's last run, if it ran on one (``continue`` keeps it)."""
    for rec in store.runs(session_id=session_id, limit=20):
        sandbox = rec.body.get("sandbox")
        if sandbox:
            engine = (sandbox.get("extra") or {}).get("engine")
            return str(engine) if engine else None
    return None


def session_state(settings: Settings, session_id: str | None, engine: str) -> EngineState:
    """The container the session's last run on ``engine`` used, and the files known to be in it."""
    if not session_id:
        return EngineState()
    from promptkiln.records.store import Store

    with Store.open(settings.home) as store:
        for rec in store.runs(session_id=session_id):
            extra = (rec.body.get("sandbox") or {}).get("extra") or {}
            if extra.get("engine") == engine and extra.get("container_id"):
                known = set(json.loads(extra.get("container_known") or "[]"))
                return EngineState(extra["container_id"], known)
    return EngineState()
