"""The E2B protocol inside the ASGI app: pick its requests out, and run the WSGI router for them.

:class:`E2BDispatch` sends a request to the E2B router when it carries ``E2b-Sandbox-Id`` (the
in-sandbox API) or its path is the control plane's (``/sandboxes…``, ``/v2/sandboxes…``), and
everything else on to the promptkiln API, so one base URL serves both.

:class:`WSGIBridge` runs a WSGI app for one ASGI request in its own thread (a streamed process
or cell may last as long as the sandbox, so it must not hold a slot of the shared thread pool),
sends each chunk as the app yields it, with back-pressure, and closes the app's iterator when the
client goes away.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("promptkiln.server.e2b")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CONTROL_PATH = re.compile(r"/(?:v2/)?sandboxes(?:/.*)?")


class _Gone(Exception):
    """The client went away: stop producing."""


def is_e2b(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    if any(name == b"e2b-sandbox-id" for name, _ in scope.get("headers") or ()):
        return True
    return CONTROL_PATH.fullmatch(scope.get("path", "")) is not None


class E2BDispatch:
    def __init__(self, app: ASGIApp, e2b: ASGIApp) -> None:
        self.app = app
        self.e2b = e2b

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_e2b(scope):
            await self.e2b(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers") or ():
        name, value = (
            raw_name.decode("latin-1").upper().replace("-", "_"),
            raw_value.decode("latin-1"),
        )
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "CONTENT_LENGTH":
            continue
        key = "HTTP_" + name
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class WSGIBridge:
    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=16)
        gone = threading.Event()

        def put(item: tuple[str, Any]) -> None:
            future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
            while True:
                if gone.is_set():
                    future.cancel()
                    raise _Gone
                try:
                    future.result(timeout=0.5)
                    return
                except concurrent.futures.TimeoutError:
                    continue

        def run(environ: dict[str, Any]) -> None:
            head: list[Any] = []
            sent = False
            result: Iterable[bytes] | None = None

            def start_response(
                status: str, headers: list[tuple[str, str]], exc_info: Any = None
            ) -> Any:
                head[:] = [status, headers]
                return lambda data: put(("body", data))

            try:
                result = self.app(environ, start_response)
                for chunk in result:
                    if not sent:
                        put(("start", head))
                        sent = True
                    if chunk:
                        put(("body", chunk))
                if not sent:
                    put(("start", head))
                put(("end", None))
            except _Gone:
                pass
            except Exception as exc:
                log.exception(
                    "the E2B request %s %s failed", environ["REQUEST_METHOD"], environ["PATH_INFO"]
                )
                with contextlib.suppress(_Gone):
                    put(("error", (sent, exc)))
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        close()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        threading.Thread(
            target=run, args=(build_environ(scope, bytes(body)),), name="e2b-request", daemon=True
        ).start()
        watcher = asyncio.create_task(watch())
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return
                kind, value = getter.result()
                if kind == "start":
                    status, headers = value
                    await send(
                        {
                            "type": "http.response.start",
                            "status": int(str(status).split(" ", 1)[0]),
                            "headers": [
                                (k.lower().encode("latin-1"), v.encode("latin-1"))
                                for k, v in headers
                            ],
                        }
                    )
                elif kind == "body":
                    await send({"type": "http.response.body", "body": value, "more_body": True})
                elif kind == "end":
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                else:  # the app failed: a 500 if nothing was sent, else the stream just ends
                    sent, _exc = value
                    if not sent:
                        data = b'{"code": 500, "message": "internal error: see the server log"}'
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 500,
                                "headers": [
                                    (b"content-type", b"application/json"),
                                    (b"content-length", str(len(data)).encode()),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": data})
                    return
        finally:
            gone.set()
            watcher.cancel()
