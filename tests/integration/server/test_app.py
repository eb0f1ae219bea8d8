"""The app factory as another module uses it: ``create_app(..., extend=...)`` under a real
uvicorn in a thread. A route that fails answers 500 with only a request id; the log has the rest."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI

from promptkiln.config import load_settings
from promptkiln.server.app import create_app
from promptkiln.server.deps import ServerOptions


def _extend(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail from deep inside")

    @router.get("/extra")
    def extra() -> dict[str, str]:
        return {"mounted": "yes"}

    app.include_router(router)


LIFESPAN: list[str] = []


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    LIFESPAN.append("started")
    yield
    LIFESPAN.append("stopped")


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    settings = load_settings(home=tmp_path / "home", model="openai/none")
    app = create_app(
        settings,
        ServerOptions(workers=1, start_workers=False),
        extend=_extend,
        lifespans=[_lifespan],
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_extend_adds_routes_and_a_500_carries_only_a_request_id(
    app_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert httpx.get(f"{app_url}/extra").json() == {"mounted": "yes"}
    assert LIFESPAN == ["started"]
    with caplog.at_level(logging.ERROR, logger="promptkiln.server"):
        r = httpx.get(f"{app_url}/boom", headers={"X-Request-ID": "req_test123"})
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "type": "api_error",
            "code": "internal_error",
            "message": "internal error",
            "hint": "the server log has the details under request id req_test123",
            "param": None,
            "request_id": "req_test123",
        }
    }
    assert "secret detail" not in r.text
    logged = [rec for rec in caplog.records if "req_test123" in rec.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret detail from deep inside" in str(logged[0].exc_info[1])


def test_a_method_the_path_does_not_take_answers_405_with_allow(app_url: str) -> None:
    """Found by the API fuzz run (Schemathesis's unsupported_method check): the error handler
    dropped Starlette's ``Allow`` header, which RFC 9110 requires on a 405."""
    r = httpx.request("TRACE", f"{app_url}/healthz")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
    assert r.json()["error"]["code"] == "method_not_allowed"
