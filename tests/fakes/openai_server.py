"""A small, real OpenAI-compatible HTTP server that replays scripted responses.

The real litellm (and the real openai SDK under it) talk to it over TCP, so tests exercise the
actual request building, SSE parsing and error mapping instead of patching them::

    server = ScriptedOpenAIServer().start()
    server.enqueue("```python\\nprint('hi')\\n```")
    server.enqueue_error(401, "invalid api key")
    ...  # litellm.completion(model="openai/test-model", api_base=server.url, api_key="sk-test")
    server.history[0]["messages"]     # what the client sent
    server.stop()

Endpoints: ``POST /v1/chat/completions`` (streaming and not) and ``GET /v1/models``.
Each completion request takes the next scripted reply from the queue; an empty queue answers
HTTP 418 so a test that asked for more than it scripted fails loudly.

Fault modes for hostile-server tests: :meth:`enqueue_raw` (any status and body, e.g. non-JSON),
:meth:`enqueue_huge` (a very large answer), :meth:`enqueue_slow` (delay before the first byte),
:meth:`enqueue_trickle` (a delay before every piece of the stream, like a slow model) and
:meth:`enqueue_drop` (send part of a stream, then close the connection).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Kind = Literal["text", "error", "raw", "huge", "slow", "drop", "trickle"]


@dataclass
class Scripted:
    """One scripted reply."""

    kind: Kind
    text: str = ""
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    chunk_chars: int = 4
    size: int = 0
    delay_s: float = 0.0
    usage: tuple[int, int] | None = None


class ScriptedOpenAIServer:
    """An OpenAI-compatible server on ``127.0.0.1`` (a free port) that replays a queue."""

    def __init__(self, models: tuple[str, ...] = ("test-model",)) -> None:
        self.models = models
        self.history: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------------

    def enqueue(
        self,
        text: str,
        *,
        finish_reason: str = "stop",
        chunk_chars: int = 4,
        usage: tuple[int, int] | None = None,
    ) -> None:
        """Answer the next request with ``text`` (streamed in ``chunk_chars`` pieces if asked)."""
        self._push(
            Scripted(
                "text", text=text, finish_reason=finish_reason, chunk_chars=chunk_chars, usage=usage
            )
        )

    def enqueue_error(
        self, status: int, message: str = "error", *, headers: dict[str, str] | None = None
    ) -> None:
        """Answer with an OpenAI-style error body ``{"error": {"message": ...}}``."""
        body = json.dumps(
            {"error": {"message": message, "type": "invalid_request_error", "code": status}}
        ).encode()
        self._push(Scripted("error", status=status, body=body, headers=dict(headers or {})))

    def enqueue_raw(
        self, body: bytes, *, status: int = 200, content_type: str = "application/json"
    ) -> None:
        """Answer with exactly these bytes (garbage, HTML error pages, half JSON...)."""
        self._push(Scripted("raw", status=status, body=body, content_type=content_type))

    def enqueue_huge(self, size: int, *, chunk_chars: int = 64 * 1024) -> None:
        """Answer with ``size`` characters of text (streamed in big chunks when streaming)."""
        self._push(Scripted("huge", size=size, chunk_chars=chunk_chars))

    def enqueue_slow(self, text: str, delay_s: float) -> None:
        """Wait ``delay_s`` seconds before sending any byte, then answer ``text``."""
        self._push(Scripted("slow", text=text, delay_s=delay_s))

    def enqueue_trickle(self, text: str, per_piece_s: float) -> None:
        """Stream ``text`` a few characters at a time, ``per_piece_s`` seconds before each."""
        self._push(Scripted("trickle", text=text, delay_s=per_piece_s))

    def enqueue_drop(self, text_before: str) -> None:
        """Stream ``text_before``, then close the connection without finishing the stream."""
        self._push(Scripted("drop", text=text_before))

    def _push(self, item: Scripted) -> None:
        with self._lock:
            self._queue.append(item)

    def _pop(self) -> Scripted | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, ending in ``/v1`` (what ``api_base`` expects)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAIServer:
        handler = _make_handler(self)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _completion_id() -> str:
    return f"chatcmpl-fake{time.monotonic_ns()}"


def _make_handler(server: ScriptedOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: every response ends by closing the connection, so streams need no framing.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        # -- helpers ---------------------------------------------------------------------------

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

        def _event(self, payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        def _chunk(
            self, cid: str, model: str, delta: dict[str, Any], finish: str | None = None
        ) -> dict[str, Any]:
            return {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        # -- routes ----------------------------------------------------------------------------

        def do_GET(self) -> None:
            server.paths.append(self.path)
            if self.path.rstrip("/").endswith("/models"):
                data = [{"id": m, "object": "model", "owned_by": "fake"} for m in server.models]
                self._send(200, json.dumps({"object": "list", "data": data}).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            server.paths.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            try:
                request: dict[str, Any] = json.loads(raw)
            except ValueError:
                self._send(400, b'{"error": {"message": "request body is not JSON"}}')
                return
            server.history.append(request)
            item = server._pop()
            if item is None:
                self._send(
                    418,
                    json.dumps({"error": {"message": "fake server: nothing enqueued"}}).encode(),
                )
                return
            model = str(request.get("model", "test-model"))
            if model not in server.models and item.kind not in ("error", "raw"):
                self._send(
                    404,
                    json.dumps(
                        {
                            "error": {
                                "message": f"The model `{model}` does not exist",
                                "type": "invalid_request_error",
                                "code": "model_not_found",
                            }
                        }
                    ).encode(),
                )
                return
            # the client may give up first (a timeout test): nothing to do then
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._reply(item, request, model)

        def _reply(self, item: Scripted, request: dict[str, Any], model: str) -> None:
            if item.kind == "error":
                self._send(item.status, item.body, headers=item.headers)
                return
            if item.kind == "raw":
                self._send(item.status, item.body, item.content_type)
                return
            if item.kind == "slow":
                server._sleep(item.delay_s)
            text = "x" * item.size if item.kind == "huge" else item.text
            if request.get("stream"):
                self._stream(item, text, model)
            else:
                self._whole(item, text, model)

        def _whole(self, item: Scripted, text: str, model: str) -> None:
            prompt, completion = item.usage or (10, max(1, len(text) // 4))
            body = {
                "id": _completion_id(),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": item.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
            self._send(200, json.dumps(body).encode())

        def _stream(self, item: Scripted, text: str, model: str) -> None:
            cid = _completion_id()
            self._start_stream()
            self._event(self._chunk(cid, model, {"role": "assistant", "content": ""}))
            step = max(1, item.chunk_chars)
            for i in range(0, len(text), step):
                if server._stopping.is_set():
                    return
                if item.kind == "trickle":
                    server._sleep(item.delay_s)
                self._event(self._chunk(cid, model, {"content": text[i : i + step]}))
            if item.kind == "drop":
                self.wfile.flush()
                self.connection.shutdown(2)  # close mid-stream: no finish chunk, no [DONE]
                return
            final = self._chunk(cid, model, {}, finish=item.finish_reason)
            if item.usage is not None:
                prompt, completion = item.usage
                final["usage"] = {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
            self._event(final)
            self._event("[DONE]")

    return Handler
