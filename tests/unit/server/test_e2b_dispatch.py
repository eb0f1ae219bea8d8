"""promptkiln.server.e2b's HTTP side without Docker: which requests are E2B's, the bridge from
ASGI to the WSGI router (streamed, in order), and the answers that need no sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from promptkiln.server.e2b.asgi import E2BDispatch, WSGIBridge
from promptkiln.server.e2b.box import BoxSpec
from promptkiln.server.e2b.fleet import Fleet, Owner
from promptkiln.server.e2b.router import Router

KEY = "pk_alice"


def _app() -> FastAPI:
    fleet = Fleet(BoxSpec(image="unused"), server="unit", templates={"promptkiln-docs": False})
    router = Router(fleet, lambda key: Owner("ten_a", "key_a") if key == KEY else None)
    app = FastAPI()

    @app.get("/v1/hello")
    def hello() -> dict[str, str]:
        return {"api": "promptkiln"}

    app.add_middleware(E2BDispatch, e2b=WSGIBridge(router))
    return app


def _call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://e2b") as client:
            return await client.request(method, path, **kw)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "body"),
    [
        (
            "POST",
            "/v2/sandboxes",
            {"X-API-KEY": "pk_wrong"},
            401,
            {"code": 401, "message": pytest.approx},
        ),
        (
            "POST",
            "/v2/sandboxes",
            {"X-API-KEY": KEY},
            404,
            {"code": 404, "message": "template 'nope' not found"},
        ),
        (
            "GET",
            "/sandboxes/i123",
            {"X-API-KEY": KEY},
            404,
            {
                "code": 404,
                "message": "sandbox \"i123\" doesn't exist or you don't have access to it",
            },
        ),
        (
            "POST",
            "/process.Process/List",
            {"E2b-Sandbox-Id": "i123", "E2b-Sandbox-Port": "49983"},
            502,
            {"sandboxId": "i123", "code": 502, "message": "The sandbox i123 was not found"},
        ),
    ],
)
def test_e2b_requests_get_e2b_answers(
    method: str, path: str, headers: dict[str, str], status: int, body: dict[str, Any]
) -> None:
    answer = _call(_app(), method, path, headers=headers, json={"templateID": "nope"})
    assert answer.status_code == status
    got = answer.json()
    if body["message"] is pytest.approx:  # the 401's words are ours; its shape is E2B's
        assert set(got) == {"code", "message"} and "Invalid API key" in got["message"]
    else:
        assert got == body


def test_other_requests_reach_the_promptkiln_api() -> None:
    assert _call(_app(), "GET", "/v1/hello").json() == {"api": "promptkiln"}


def test_the_bridge_streams_a_wsgi_app_in_order() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        body = environ["wsgi.input"].read()
        for i in range(50):
            yield b"%d:%s\n" % (i, body)

    answer = _call(WSGIBridge(app), "POST", "/x", content=b"hi")
    assert answer.status_code == 200
    assert answer.text == "".join(f"{i}:hi\n" for i in range(50))
