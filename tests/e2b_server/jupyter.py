"""E2B's code-interpreter server (port 49999 of a code-interpreter sandbox), played against a
warm Python "kernel" process in the fake sandbox's container.

The real template runs a Jupyter server and a FastAPI app on port 49999, both as root; the app
keeps a default IPython kernel started and answers ``POST /execute`` ({"code", "context_id",
"language", "env_vars"}) with JSON lines: ``stdout`` / ``stderr`` ({"text", "timestamp"}),
``number_of_executions``, ``result`` ({"text", "is_main_result", ...}: the cell's last
expression), ``error`` ({"name", "value", "traceback"}), ``keepalive`` while the cell is silent
(every 5 s), and ``{"type": "end_of_execution"}`` last. ``GET /health`` answers "OK".

Here the kernel is one long-lived ``python3`` started as root when the sandbox is created (so,
as there, it exists before anything runs in the sandbox), with one namespace kept across cells,
and its ``sys.stdout``/``sys.stderr`` replaced by streams that send JSON lines. It serves one
cell at a time on a unix socket in the container's /tmp; each ``/execute`` is relayed by a
short ``docker exec`` client that writes the request to that socket and copies the lines back.
A cell's code is executed for real, in that process: its cwd starts at /home/user as there.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .box import Box
    from .server import FakeE2B

JUPYTER_PORT = "49999"
SOCKET = "/tmp/.fake-code-interpreter.sock"
KEEPALIVE_S = 5.0
#: The request travels to the kernel as one argument of the relaying exec.
MAX_REQUEST = 120_000

KERNEL = r"""
import ast, builtins, datetime, io, json, os, socket, sys, traceback

path = sys.argv[1]
os.chdir("/home/user")
namespace = {"__name__": "__main__", "__builtins__": builtins}
count = 0
conn = None


def send(item):
    if conn is not None:
        try:
            conn.sendall(json.dumps(item).encode() + b"\n")
        except OSError:
            pass


class Stream(io.TextIOBase):
    def __init__(self, name):
        self.kind = name

    def writable(self):
        return True

    def write(self, text):
        if text:
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            send({"type": self.kind, "text": str(text), "timestamp": now})
        return len(text)


sys.stdout, sys.stderr = Stream("stdout"), Stream("stderr")
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
server.bind(path)
os.chmod(path, 0o600)
server.listen(8)
while True:
    conn, _ = server.accept()
    with conn.makefile("rb") as f:
        request = json.loads(f.readline())
    count += 1
    os.environ.update(request.get("env_vars") or {})
    send({"type": "number_of_executions", "execution_count": count})
    name = "/tmp/ipykernel_%d/cell_%d.py" % (os.getpid(), count)
    try:
        tree = ast.parse(request["code"], name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), namespace)
        if last is not None:
            value = eval(compile(last, name, "eval"), namespace)
            if value is not None:
                text = repr(value)
                if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
                    text = text[1:-1]  # as the real server strips a str's quotes
                send({"type": "result", "text": text, "is_main_result": True})
    except BaseException as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        send({"type": "error", "name": type(exc).__name__, "value": str(exc),
              "traceback": "".join(tb)})
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        conn.close()
        conn = None
"""

CLIENT = r"""
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(200):
    try:
        s.connect(sys.argv[1])
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit(3)
s.sendall(sys.argv[2].encode() + b"\n")
while True:
    data = s.recv(65536)
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
"""


def start_kernel(box: Box) -> None:
    """Start the sandbox's kernel as root and wait until it listens."""
    import time

    api = box.api()
    exec_id = api.exec_create(
        box.container_id,
        ["python3", "-c", KERNEL, SOCKET],
        user="0:0",
        workdir="/home/user",
        environment=dict(box.env),
    )
    api.exec_start(exec_id, detach=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, _ = box.exec_simple(["test", "-S", SOCKET], user="root")
        if code == 0:
            return
        time.sleep(0.05)
    raise RuntimeError("the fake code-interpreter kernel did not start")


def execute(box: Box, request: dict[str, Any]) -> Iterator[bytes]:
    """Relay one cell to the kernel; yield its JSON lines, keepalives while it is silent."""
    api = box.api()
    exec_id = api.exec_create(
        box.container_id,
        ["python3", "-c", CLIENT, SOCKET, json.dumps(request)],
        user="0:0",
        workdir="/",
    )
    stream = api.exec_start(exec_id, stream=True, demux=True)
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        buffered = b""
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

    threading.Thread(target=pump, name="fake-jupyter-relay", daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=KEEPALIVE_S)
        except queue.Empty:
            yield b'{"type": "keepalive"}\n'
            continue
        if line is None:
            break
        yield line
    if not box.dead:  # a sandbox killed mid-cell sends no end: the connection drops
        yield b'{"type": "end_of_execution"}\n'


class Jupyter:
    """The WSGI app for port 49999 of the fake's code-interpreter sandboxes."""

    def __init__(self, fake: FakeE2B) -> None:
        self.fake = fake

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        box = self.fake.box_for(environ.get("HTTP_E2B_SANDBOX_ID"))
        assert box is not None  # checked by the router
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path == "/health" and method == "GET":
            return _answer(start_response, "200 OK", "OK")
        if path != "/execute" or method != "POST":
            return _answer(start_response, "404 Not Found", {"detail": "Not Found"})
        try:
            body = json.loads(environ["wsgi.input"].read() or b"{}")
        except ValueError:
            return _answer(start_response, "422 Unprocessable Entity", {"detail": "bad JSON"})
        if not isinstance(body, dict) or not isinstance(body.get("code"), str):
            return _answer(start_response, "422 Unprocessable Entity", {"detail": "code"})
        if body.get("context_id") and body.get("language"):
            return _text(
                start_response,
                "400 Bad Request",
                "Only one of context_id or language can be provided",
            )
        if body.get("context_id"):
            return _text(start_response, "404 Not Found", f"Context {body['context_id']} not found")
        if body.get("language") not in (None, "python", "Python"):
            return _text(start_response, "500 Internal Server Error", "the fake has Python only")
        request = {"code": body["code"], "env_vars": body.get("env_vars") or {}}
        if len(json.dumps(request)) > MAX_REQUEST:
            return _text(start_response, "413 Payload Too Large", "cell too large for the fake")
        start_response("200 OK", [("Content-Type", "application/json")])
        return execute(box, request)


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
