"""envd, the agent inside every E2B sandbox, played against a Docker container.

Served on "port 49983" of each sandbox, i.e. every request that carries ``E2b-Sandbox-Id`` and
``E2b-Sandbox-Port: 49983``: ``GET /health``, ``GET``/``POST /files``, and the Connect services
``process.Process`` (Start, Connect, List, SendSignal, and stdin: SendInput, StreamInput,
CloseStdin) and ``filesystem.Filesystem`` (Stat, ListDir, MakeDir, Move, Remove, and the
directory watches of envd_watch.py: WatchDir, CreateWatcher, GetWatcherEvents, RemoveWatcher),
mounted from the SDK's own generated WSGI server classes with the JSON codec. Other methods
(PTYs, process Update) answer UNIMPLEMENTED.
Every process that ends is a run record (fleet.py's recorder).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.filesystem import filesystem_connect, filesystem_pb
from e2b.envd.process import process_connect
from protobuf.wkt.google.protobuf.timestamp_pb import Timestamp

from promptkiln.server.e2b import boxfiles
from promptkiln.server.e2b.box import Box, BoxError
from promptkiln.server.e2b.boxfiles import Entry
from promptkiln.server.e2b.envd_common import BOX_TO_CODE, user_from_headers
from promptkiln.server.e2b.envd_process import ProcessService
from promptkiln.server.e2b.envd_watch import WatchService

if TYPE_CHECKING:
    from promptkiln.server.e2b.fleet import Fleet

ENVD_PORT = "49983"

_KIND = {"f": 1, "d": 2, "l": 3}  # FileType: FILE, DIRECTORY, SYMLINK
_GO_MODE_LETTER = {"d": "d", "l": "L", "p": "p", "s": "S", "c": "c", "b": "D", "f": "-"}


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


class FilesystemService(WatchService):
    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except BoxError as exc:
            raise ConnectError(BOX_TO_CODE[exc.kind], str(exc)) from exc

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
            box = self.fleet.box_for(environ.get("HTTP_E2B_SANDBOX_ID"))
            if box is None or not box.running():  # E2B's edge: the sandbox's VM is gone
                return _json(start_response, "502 Bad Gateway", {
                    "code": 502, "message": "The sandbox was not found"})  # fmt: skip
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
