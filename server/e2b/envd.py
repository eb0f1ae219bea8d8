"""envd, the agent inside every E2B sandbox, played against a Docker container.

Served on "port 49983" of each sandbox, i.e. every request that carries ``E2b-Sandbox-Id`` and
``E2b-Sandbox-Port: 49983``: ``GET /health``, ``GET``/``POST /files``, and the Connect services
``process.Process`` (Start, List, SendSignal) and ``filesystem.Filesystem`` (Stat, ListDir,
MakeDir, Move, Remove), mounted from the SDK's own generated WSGI server classes with the JSON
codec. Other methods (process Connect and stdin, PTYs, directory watches) answer UNIMPLEMENTED.
Every process that ends is a run record (fleet.py's recorder).
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import json
import queue
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.filesystem import filesystem_connect, filesystem_pb
from e2b.envd.process import process_connect, process_pb
from protobuf import Oneof
from protobuf.wkt.google.protobuf.timestamp_pb import Timestamp

from promptkiln.server.e2b import boxfiles
from promptkiln.server.e2b.box import Box, BoxError
from promptkiln.server.e2b.boxfiles import Entry

if TYPE_CHECKING:
    from promptkiln.server.e2b.fleet import Fleet

ENVD_PORT = "49983"

_KIND = {"f": 1, "d": 2, "l": 3}  # FileType: FILE, DIRECTORY, SYMLINK
_GO_MODE_LETTER = {"d": "d", "l": "L", "p": "p", "s": "S", "c": "c", "b": "D", "f": "-"}
_BOX_TO_CODE = {
    "not_found": Code.NOT_FOUND,
    "invalid": Code.INVALID_ARGUMENT,
    "exists": Code.ALREADY_EXISTS,
    "internal": Code.INTERNAL,
}
_SIGNALS = {9: "KILL", 15: "TERM"}


def user_from_headers(get: Callable[[str], str | None]) -> str:
    """envd takes the user from ``Authorization: Basic base64("<user>:")``; default "user"."""
    value = get("authorization")
    if not value or not value.lower().startswith("basic "):
        return "user"
    try:
        user = base64.b64decode(value[6:]).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ConnectError(Code.UNAUTHENTICATED, "invalid authorization header") from exc
    if user not in ("user", "root"):
        raise ConnectError(Code.UNAUTHENTICATED, f"unknown user {user!r}")
    return user


def _permissions(entry: Entry) -> str:
    bits = ""
    for shift in (6, 3, 0):
        part = (entry.mode >> shift) & 7
        bits += ("r" if part & 4 else "-") + ("w" if part & 2 else "-") + ("x" if part & 1 else "-")
    return _GO_MODE_LETTER.get(entry.kind, "?") + bits


def entry_info(entry: Entry) -> filesystem_pb.EntryInfo:
    is_link = entry.kind == "l"
    # Newer envd reports a symlink's target type in `type` and flags the link with is_symlink.
    kind = _KIND.get(entry.target_kind if is_link else entry.kind, 0)
    if is_link and entry.target_kind in ("l", "N", "L"):
        kind = 3
    return filesystem_pb.EntryInfo(
        name=entry.name,
        type=filesystem_pb.FileType(kind),
        path=entry.path,
        size=entry.size,
        mode=entry.mode,
        permissions=_permissions(entry),
        owner=entry.owner,
        group=entry.group,
        modified_time=Timestamp.from_nanos(int(entry.mtime * 1e9)),
        symlink_target=entry.link_target if is_link else None,
        is_symlink=is_link,
    )


class _Common:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def box(self, ctx: Any) -> tuple[Box, str]:
        box = self.fleet.box_for(ctx.request_headers.get("e2b-sandbox-id"))
        if box is None:
            raise ConnectError(Code.UNAVAILABLE, "sandbox was not found")
        return box, user_from_headers(ctx.request_headers.get)


class ProcessService(_Common):
    def start(
        self, request: process_pb.StartRequest, ctx: Any
    ) -> Iterator[process_pb.StartResponse]:
        box, user = self.box(ctx)
        config = request.process or process_pb.ProcessConfig()
        if request.has_field("pty") and request.pty is not None:
            raise ConnectError(Code.UNIMPLEMENTED, "PTYs are not available on this server")
        try:
            proc = box.start_process(
                config.cmd,
                list(config.args),
                user=user,
                envs=dict(config.envs),
                cwd=config.cwd if config.has_field("cwd") else None,
                tag=request.tag if request.has_field("tag") else None,
            )
        except BoxError as exc:
            raise ConnectError(_BOX_TO_CODE[exc.kind], str(exc)) from exc
        interval = float(ctx.request_headers.get("keepalive-ping-interval") or 50)

        def event(**kw: Any) -> process_pb.StartResponse:
            ((name, value),) = kw.items()
            return process_pb.StartResponse(event=process_pb.ProcessEvent(event=Oneof(name, value)))  # type: ignore[arg-type]

        yield event(start=process_pb.ProcessEvent.StartEvent(pid=proc.pid))
        out: list[bytes] = []
        script = " ".join([config.cmd, *config.args])
        while True:
            try:
                kind, value = proc.events.get(timeout=interval)
            except queue.Empty:
                yield event(keepalive=process_pb.ProcessEvent.KeepAlive())
                continue
            if kind in ("stdout", "stderr"):
                out.append(b"\x00" + value if kind == "stderr" else value)
                data = process_pb.ProcessEvent.DataEvent(output=Oneof(kind, value))  # type: ignore[arg-type]
                yield event(data=data)
            elif kind == "end":
                code = int(value)
                self.fleet.recorded(
                    box.sandbox_id,
                    "e2b-process",
                    script,
                    code,
                    b"".join(b for b in out if not b.startswith(b"\x00")).decode(errors="replace"),
                    b"".join(b[1:] for b in out if b.startswith(b"\x00")).decode(errors="replace"),
                    proc.started,
                )
                yield event(
                    end=process_pb.ProcessEvent.EndEvent(
                        exit_code=code, exited=True, status=f"exit status {code}"
                    )
                )
                return
            else:  # the sandbox is gone: envd's connection just drops
                self.fleet.recorded(
                    box.sandbox_id, "e2b-process", script, None, "", "", proc.started
                )
                raise ConnectError(
                    Code.UNAVAILABLE,
                    f"the connection to sandbox {box.sandbox_id} ended before the stream completed",
                )

    def list(self, request: process_pb.ListRequest, ctx: Any) -> process_pb.ListResponse:
        box, _ = self.box(ctx)
        return process_pb.ListResponse(
            processes=[
                process_pb.ProcessInfo(
                    pid=p.pid,
                    tag=p.tag,
                    config=process_pb.ProcessConfig(cmd=p.cmd, args=p.args, envs=p.envs, cwd=p.cwd),
                )
                for p in list(box.procs.values())
            ]
        )

    def send_signal(
        self, request: process_pb.SendSignalRequest, ctx: Any
    ) -> process_pb.SendSignalResponse:
        box, _ = self.box(ctx)
        selector = request.process.selector if request.process is not None else None
        if not isinstance(selector, Oneof) or selector.field != "pid":
            raise ConnectError(Code.INVALID_ARGUMENT, "this envd selects processes by pid")
        name = _SIGNALS.get(int(request.signal))
        if name is None:
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid signal: {request.signal}")
        if not box.signal(int(selector.value), name):
            raise ConnectError(Code.NOT_FOUND, f"process with pid {selector.value} not found")
        return process_pb.SendSignalResponse()


class FilesystemService(_Common):
    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BoxError as exc:
            raise ConnectError(_BOX_TO_CODE[exc.kind], str(exc)) from exc

    def stat(self, request: filesystem_pb.StatRequest, ctx: Any) -> filesystem_pb.StatResponse:
        box, user = self.box(ctx)
        entry = self._call(lambda: boxfiles.stat(box, request.path, user=user))
        return filesystem_pb.StatResponse(entry=entry_info(entry))

    def list_dir(
        self, request: filesystem_pb.ListDirRequest, ctx: Any
    ) -> filesystem_pb.ListDirResponse:
        box, user = self.box(ctx)
        depth = request.depth or 1
        entries = self._call(lambda: boxfiles.list_dir(box, request.path, depth, user=user))
        return filesystem_pb.ListDirResponse(entries=[entry_info(e) for e in entries])

    def make_dir(
        self, request: filesystem_pb.MakeDirRequest, ctx: Any
    ) -> filesystem_pb.MakeDirResponse:
        box, user = self.box(ctx)
        entry = self._call(lambda: boxfiles.make_dir(box, request.path, user=user))
        return filesystem_pb.MakeDirResponse(entry=entry_info(entry))

    def remove(
        self, request: filesystem_pb.RemoveRequest, ctx: Any
    ) -> filesystem_pb.RemoveResponse:
        box, user = self.box(ctx)
        self._call(lambda: boxfiles.remove(box, request.path, user=user))
        return filesystem_pb.RemoveResponse()

    def move(self, request: filesystem_pb.MoveRequest, ctx: Any) -> filesystem_pb.MoveResponse:
        box, user = self.box(ctx)
        entry = self._call(
            lambda: boxfiles.move(box, request.source, request.destination, user=user)
        )
        return filesystem_pb.MoveResponse(entry=entry_info(entry))


def _unimplemented(*_: Any) -> Any:
    raise ConnectError(Code.UNIMPLEMENTED, "not implemented by promptkiln's envd")


class _Complete:
    """Fill the generated Protocol's other methods with UNIMPLEMENTED."""

    def __init__(self, impl: Any) -> None:
        self._impl = impl

    def __getattr__(self, name: str) -> Any:
        return getattr(self._impl, name, _unimplemented)


def _json(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


class Envd:
    """The WSGI app for envd's port, shared by every sandbox."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.process_app = process_connect.ProcessWSGIApplication(_Complete(ProcessService(fleet)))  # type: ignore[arg-type]
        self.filesystem_app = filesystem_connect.FilesystemWSGIApplication(
            _Complete(FilesystemService(fleet))  # type: ignore[arg-type]
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path.startswith("/process.Process/"):
            return self.process_app(environ, start_response)
        if path.startswith("/filesystem.Filesystem/"):
            return self.filesystem_app(environ, start_response)
        if path == "/health":
            start_response("204 No Content", [("Content-Length", "0")])
            return []
        if path == "/files":
            return self._files(environ, start_response)
        return _json(start_response, "404 Not Found", {"code": 404, "message": "not found"})

    def _files(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        box = self.fleet.box_for(environ.get("HTTP_E2B_SANDBOX_ID"))
        assert box is not None  # checked by the router
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        names = query.get("username")
        try:
            user = (
                names[0]
                if names
                else user_from_headers(lambda _: environ.get("HTTP_AUTHORIZATION"))
            )
        except ConnectError:
            return _json(start_response, "401 Unauthorized", {"code": 401, "message": "bad user"})
        if user not in ("user", "root"):
            return _json(start_response, "401 Unauthorized", {"code": 401, "message": "bad user"})
        path = (query.get("path") or [""])[0]
        try:
            if environ["REQUEST_METHOD"] == "GET":
                size, body = boxfiles.read_file(box, path, user=user)
                start_response(
                    "200 OK",
                    [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
                )
                return body
            if environ["REQUEST_METHOD"] == "POST":
                return self._upload(environ, start_response, box, user, path)
        except BoxError as exc:
            status = {"not_found": "404 Not Found", "invalid": "400 Bad Request"}.get(
                exc.kind, "500 Internal Server Error"
            )
            return _json(start_response, status, {"code": int(status[:3]), "message": str(exc)})
        return _json(start_response, "405 Method Not Allowed", {"code": 405, "message": "no"})

    def _upload(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        box: Box,
        user: str,
        path: str,
    ) -> Iterable[bytes]:
        body = environ["wsgi.input"].read()
        content_type = environ.get("CONTENT_TYPE", "")
        files: list[tuple[str, bytes]] = []
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
            )
            for part in message.iter_parts():
                name = part.get_filename() or ""
                data = part.get_payload(decode=True) or b""
                files.append((path or name, data))  # type: ignore[arg-type]
        else:
            files.append((path, body))
        written = []
        for file_path, data in files:
            if not file_path.startswith("/"):
                file_path = "/home/user/" + file_path
            boxfiles.write_file(box, file_path, data, user=user)
            written.append(
                {"name": file_path.rsplit("/", 1)[-1], "type": "file", "path": file_path}
            )
        return _json(start_response, "200 OK", written)
