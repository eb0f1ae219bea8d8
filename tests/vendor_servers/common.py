"""What the three fake vendor servers share: an HTTP server on 127.0.0.1 that records every
connection and request, scripted "model" turns, and a "container" that runs the scripted code
for real in promptkiln's Docker sandbox and keeps its files per container id.

The container contract of the fakes: the container's files (uploads and earlier outputs) are
placed in ``./inputs/`` of a fresh locked-down sandbox for each execution; every file the code
writes in the working directory becomes a new file of the container. Scripted code therefore
reads ``inputs/<name>`` and writes plain names.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from promptkiln.config import load_settings
from promptkiln.sandbox.base import EntryKind, InputFile, Termination
from promptkiln.sandbox.registry import create_sandbox

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):04d}{uuid.uuid4().hex[:12]}"


@dataclass
class Turn:
    """One scripted answer of the fake model.

    ``code`` runs in the container; ``text`` is the model's words. ``rename`` maps a produced
    file's real name to the name the vendor reports (hostile-name tests). ``pause`` answers
    ``pause_turn`` first (Claude). ``cite`` False leaves out file citations (OpenAI's known
    missing-annotation case); ``cite_only`` cites just those names (the answer mentions one file
    and not the others the code saved). ``json`` is a structured answer (Gemini).
    """

    code: str = ""
    text: str = "Done."
    rename: dict[str, str] = field(default_factory=dict)
    pause: bool = False
    cite: bool = True
    cite_only: tuple[str, ...] | None = None
    json: Any = None


@dataclass
class Error:
    status: int
    body: dict[str, Any]


@dataclass
class StoredFile:
    id: str
    name: str
    data: bytes
    source: str  # "user" | "assistant"
    created_at: int = field(default_factory=lambda: int(time.time()))


@dataclass
class Execution:
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    new: list[tuple[str, bytes]]


class Container:
    """A vendor container: files by name, and code run for real in a fresh Docker sandbox."""

    def __init__(self, cid: str) -> None:
        self.id = cid
        self.files: dict[str, StoredFile] = {}
        self.expired = False
        self.executions = 0

    def add(self, f: StoredFile) -> None:
        self.files[f.name] = f

    def execute(self, code: str, timeout_s: float = 60.0) -> Execution:
        settings = load_settings(limits={"timeout": timeout_s})
        sandbox = create_sandbox("docker", settings, new_id("fake-"))
        self.executions += 1
        try:
            sandbox.start()
            sandbox.put_inputs(
                [InputFile(f.name, f.data) for f in self.files.values()], code.encode()
            )
            result = sandbox.run(["python3", "/home/user/.promptkiln/main.py"], timeout_s=timeout_s)
            new: list[tuple[str, bytes]] = []
            if result.termination is Termination.EXITED:
                for entry in sandbox.outputs():
                    if entry.kind is EntryKind.FILE:
                        new.append((entry.raw_name, entry.read(64 * 2**20)))
        finally:
            sandbox.close()
        return Execution(
            result.stdout.text,
            result.stderr.text,
            result.exit_code if result.exit_code is not None else -1,
            result.termination is Termination.TIMEOUT,
            new,
        )


class FakeVendor:
    """Base: the HTTP plumbing, the queues, the request log and the connection count."""

    api_key = "test-key"

    def __init__(self) -> None:
        self.turns: deque[Turn | Error] = deque()
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "body", "headers"}
        self.connections = 0
        self.containers: dict[str, Container] = {}
        self.files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting --------------------------------------------------------------------------

    def enqueue(self, turn: Turn) -> None:
        self.turns.append(turn)

    def enqueue_error(self, status: int, kind: str, message: str) -> None:
        self.turns.append(Error(status, self.error_body(status, kind, message)))

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def expire(self, cid: str) -> None:
        self.containers[cid].expired = True

    # -- server -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What a client is configured with (OpenAI's includes ``/v1``)."""
        return self.url

    def start(self) -> FakeVendor:
        vendor = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                with vendor._lock:
                    vendor.connections += 1
                return True

        self._server = Server(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        """Return ``(status, content type, body)``; implemented per vendor."""
        raise NotImplementedError

    def authorised(self, headers: Any) -> bool:
        raise NotImplementedError

    def unauthorised(self) -> tuple[int, str, bytes]:
        """The vendor's answer to a wrong key (401 unless a vendor documents otherwise)."""
        return json_reply(401, self.error_body(401, "authentication_error", "invalid x-api-key"))

    def next_turn(self) -> Turn | Error:
        if not self.turns:
            return Error(418, self.error_body(418, "test_error", "no scripted turn left"))
        return self.turns.popleft()


def json_reply(status: int, payload: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()


def multipart(headers: Any, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``{field: (filename, bytes)}`` of a multipart/form-data body."""
    head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        out[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return out


def _handler(vendor: FakeVendor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            parsed: Any = None
            if body and "json" in (self.headers.get("Content-Type") or ""):
                parsed = json.loads(body)
            with vendor._lock:
                vendor.requests.append(
                    {
                        "method": method,
                        "path": path,
                        "body": parsed,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
            if not vendor.authorised(self.headers):
                status, ctype, data = vendor.unauthorised()
            else:
                status, ctype, data = vendor.handle(method, path, self.headers, body)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
