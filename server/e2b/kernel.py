"""E2B's code-interpreter server (port 49999 of a ``code-interpreter-v1`` sandbox), played
against the sandbox's warm Python kernel (kernel_program.py), which runs as the sandbox's user.

``POST /execute`` ({"code", "context_id", "language", "env_vars"}) answers JSON lines as they
come (see kernel_program.py), ``keepalive`` while the cell is silent (every 5 s) and
``{"type": "end_of_execution"}`` last; ``/contexts`` creates, lists, restarts and removes
contexts (Python only: the languages this server runs offline); ``GET /health`` answers "OK".
Each ``/execute`` is relayed by a short ``docker exec`` client that writes the request to the
kernel's socket and copies the lines back.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from promptkiln.server.e2b.kernel_program import CLIENT, SOCKET

if TYPE_CHECKING:
    from promptkiln.server.e2b.box import Box
    from promptkiln.server.e2b.fleet import Fleet

JUPYTER_PORT = "49999"
KEEPALIVE_S = 5.0
#: The request travels to the kernel as one argument of the relaying exec.
MAX_REQUEST = 120_000
LANGUAGES = ("python", "Python")


def _relay(box: Box, request: dict[str, Any]) -> Any:
    api = box.api()
    exec_id = api.exec_create(
        box.container_id,
        ["python3", "-c", CLIENT, SOCKET, json.dumps(request)],
        user="1000:1000",
        workdir="/",
    )
    return api.exec_start(exec_id, stream=True, demux=True)


def execute(box: Box, request: dict[str, Any], on_line: Callable[[bytes], None]) -> Iterator[bytes]:
    """Relay one cell to the kernel; yield its JSON lines, keepalives while it is silent."""
    stream = _relay(box, request)
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        buffered: bytes = b""
        try:
            for out, _err in stream:
                buffered += out or b""
                while b"\n" in buffered:
                    line, buffered = buffered.split(b"\n", 1)
                    lines.put(line + b"\n")
        except Exception:
            pass  # the container went away: the connection just ends
        finally:
            lines.put(None)

    threading.Thread(target=pump, name="e2b-kernel-relay", daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=KEEPALIVE_S)
        except queue.Empty:
            yield b'{"type": "keepalive"}\n'
            continue
        if line is None:
            break
        on_line(line)
        yield line
    if not box.dead:  # a sandbox killed mid-cell sends no end: the connection drops
        yield b'{"type": "end_of_execution"}\n'


class Jupyter:
    """The WSGI app for port 49999 of the code-interpreter sandboxes."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        sid = environ.get("HTTP_E2B_SANDBOX_ID") or ""
        box = self.fleet.box_for(sid)
        assert box is not None  # checked by the router
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path == "/health" and method == "GET":
            return _answer(start_response, "200 OK", "OK")
        if path == "/contexts" or path.startswith("/contexts/"):
            return self._contexts(box, method, path, environ, start_response)
        if path != "/execute" or method != "POST":
            return _answer(start_response, "404 Not Found", {"detail": "Not Found"})
        try:
            body = json.loads(environ["wsgi.input"].read() or b"{}")
        except ValueError:
            return _answer(start_response, "422 Unprocessable Entity", {"detail": "bad JSON"})
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            return _answer(start_response, "422 Unprocessable Entity", {"detail": "code"})
        context_id = body.get("context_id")
        if context_id and body.get("language"):
            return _text(
                start_response,
                "400 Bad Request",
                "Only one of context_id or language can be provided",
            )
        if context_id and context_id not in box.contexts:
            return _text(start_response, "404 Not Found", f"Context {context_id} not found")
        if body.get("language") not in (None, *LANGUAGES):
            return _text(
                start_response,
                "400 Bad Request",
                f"language {body['language']!r} is not available here: this server runs Python",
            )
        request = {
            "code": body["code"],
            "env_vars": body.get("env_vars") or {},
            "context": context_id or "default",
            "cwd": box.contexts.get(context_id or "", None),
        }
        if len(json.dumps(request)) > MAX_REQUEST:
            return _text(start_response, "413 Payload Too Large", "the cell is too large")
        start_response("200 OK", [("Content-Type", "application/json")])
        return self.fleet.recorded_cell(sid, body["code"], lambda on: execute(box, request, on))

    def _contexts(
        self,
        box: Box,
        method: str,
        path: str,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 1:
            try:
                body = json.loads(environ["wsgi.input"].read() or b"{}")
            except ValueError:
                return _answer(start_response, "422 Unprocessable Entity", {"detail": "bad JSON"})
            language = (body or {}).get("language") or "python"
            if language not in LANGUAGES:
                return _text(start_response, "400 Bad Request", f"language {language!r} unknown")
            context_id = uuid.uuid4().hex
            box.contexts[context_id] = (body or {}).get("cwd") or "/home/user"
            return _answer(start_response, "200 OK", _context(context_id, box))
        if method == "GET" and len(parts) == 1:
            return _answer(start_response, "200 OK", [_context(c, box) for c in box.contexts])
        context_id = parts[1] if len(parts) > 1 else ""
        if context_id not in box.contexts:
            return _text(start_response, "404 Not Found", f"Context {context_id} not found")
        if method == "DELETE" and len(parts) == 2:
            box.contexts.pop(context_id, None)
            _reset(box, context_id)
            start_response("204 No Content", [("Content-Length", "0")])
            return []
        if method == "POST" and parts[2:] == ["restart"]:
            _reset(box, context_id)
            return _answer(start_response, "200 OK", None)
        return _answer(start_response, "404 Not Found", {"detail": "Not Found"})


def _context(context_id: str, box: Box) -> dict[str, str]:
    return {"id": context_id, "language": "python", "cwd": box.contexts[context_id]}


def _reset(box: Box, context_id: str) -> None:
    for _ in _relay(box, {"reset": context_id}):
        pass


def _answer(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _text(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
