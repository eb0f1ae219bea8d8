"""envd's directory watches, played by a small poller inside the sandbox's container.

envd watches with inotify (fsnotify); the sandbox image has no inotify tools and the container
drops every capability, so a short python3 program (:data:`POLLER`, run with ``docker exec`` as
the asking user, so the kernel's permissions decide what it may see) snapshots the directory
every 0.2 s (recursively if asked) and prints the difference as envd's events: create, write,
remove, rename (the old name; the new one is a create, as fsnotify reports it) and chmod, each
named relative to the watched directory. A file created with content is a create and a write,
as ``echo hi > f`` is under inotify. Changes quicker than one poll fold into one event.

Both of the SDK's ways are served: ``WatchDir`` (one stream; the async SDK) and the polling trio
``CreateWatcher`` / ``GetWatcherEvents`` / ``RemoveWatcher`` (the sync SDK). A poller reads
its stdin, the exec's connection, and exits when that ends: when the stream ends, the watcher
is removed or this server goes away; it dies with its sandbox too, and a watcher whose sandbox
is gone is dropped from the server's table.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.filesystem import filesystem_pb
from protobuf import Oneof

from promptkiln.server.e2b.box import HOME, USERS, Box
from promptkiln.server.e2b.box_proc import demuxed
from promptkiln.server.e2b.envd_common import Common

if TYPE_CHECKING:
    from promptkiln.server.e2b.fleet import Fleet

#: argv: the directory, "1" for recursive. Prints "ready" after the first snapshot, then one
#: JSON list of [type, name] pairs per change; exits when its stdin ends (the server closed the
#: exec's connection, or went away). Exit 3: no such path; 4: not a directory.
POLLER = r"""
import json, os, stat, sys, threading, time
root, recursive = os.path.abspath(sys.argv[1]), sys.argv[2] == "1"
if not os.path.exists(root):
    sys.exit(3)
if not os.path.isdir(root):
    sys.exit(4)

def orphaned():
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=orphaned, daemon=True).start()

def snap():
    seen, todo = {}, [root]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            seen[os.path.relpath(e.path, root)] = (
                st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns)
            if recursive and stat.S_ISDIR(st.st_mode):
                todo.append(e.path)
    return seen

def diff(old, new):
    gone, born = old.keys() - new.keys(), new.keys() - old.keys()
    moved = {old[n][0] for n in gone} & {new[n][0] for n in born}
    out = [["rename" if old[n][0] in moved else "remove", n] for n in sorted(gone)]
    for n in sorted(born):
        out.append(["create", n])
        if stat.S_ISREG(new[n][1]) and new[n][2] and new[n][0] not in moved:
            out.append(["write", n])
    for n in sorted(old.keys() & new.keys()):
        (i, m, s, t), (i2, m2, s2, t2) = old[n], new[n]
        if stat.S_IMODE(m) != stat.S_IMODE(m2):
            out.append(["chmod", n])
        if not stat.S_ISDIR(m2) and (i, s, t) != (i2, s2, t2):
            out.append(["write", n])
    return out

old = snap()
print("ready", flush=True)
while True:
    time.sleep(0.2)
    new = snap()
    events, old = diff(old, new), new
    if events:
        print(json.dumps(events), flush=True)
"""

_TYPES = {"create": 1, "write": 2, "remove": 3, "rename": 4, "chmod": 5}  # filesystem.EventType


class Watcher:
    """One running poller and the events it reported that nobody has taken yet."""

    def __init__(self, box: Box, path: str, recursive: bool, user: str) -> None:
        self.box = box
        self.events: queue.Queue[list[tuple[str, str]] | None] = queue.Queue()
        self.error: str | None = None
        self.closed = False
        api = box.api()
        exec_id = api.exec_create(
            box.container_id,
            ["python3", "-c", POLLER, path, "1" if recursive else "0"],
            user=USERS[user],
            workdir=HOME if user == "user" else "/root",
            stdin=True,
        )
        sock = api.exec_start(exec_id, socket=True)
        self._sock = getattr(sock, "_sock", sock)
        self._lines = _lines(demuxed(sock))
        if next(self._lines, None) != b"ready":
            self.close()
            code = api.exec_inspect(exec_id)["ExitCode"]
            if code == 3:
                raise ConnectError(Code.NOT_FOUND, f"path {path} not found")
            if code == 4:
                raise ConnectError(Code.INVALID_ARGUMENT, f"path {path} not a directory")
            raise ConnectError(Code.INTERNAL, f"error watching {path} (exit {code})")
        threading.Thread(target=self._pump, name="e2b-watch", daemon=True).start()

    def _pump(self) -> None:
        try:
            for line in self._lines:
                pairs = [(str(k), str(n)) for k, n in json.loads(line)]
                if pairs:
                    self.events.put(pairs)
        except Exception as exc:  # the container went away under us
            self.error = str(exc)
        if not self.closed:
            self.error = self.error or "the watcher ended (is the sandbox gone?)"
        self.events.put(None)

    def take(self, timeout: float = 0.0) -> list[tuple[str, str]] | None:
        """The events reported so far (waiting up to ``timeout`` seconds for the first one);
        None when the poller ended."""
        taken: list[tuple[str, str]] = []
        try:
            while True:
                item = self.events.get(timeout=timeout) if not taken else self.events.get_nowait()
                if item is None:
                    self.events.put(None)  # the end stays visible to the next caller
                    return taken or None
                taken.extend(item)
        except queue.Empty:
            return taken

    def close(self) -> None:
        """End the poller: it exits when its stdin ends, which is also what happens when this
        server goes away without closing it."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()


def _lines(stream: Iterator[tuple[bytes | None, bytes | None]]) -> Iterator[bytes]:
    """The stdout lines of a demuxed exec stream (stderr is dropped)."""
    pending = b""
    for out, _err in stream:
        if out:
            pending += out
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                yield line.strip()


def _event(kind: str, name: str) -> filesystem_pb.FilesystemEvent:
    return filesystem_pb.FilesystemEvent(name=name, type=filesystem_pb.EventType(_TYPES[kind]))


def _response(name: str, value: Any) -> filesystem_pb.WatchDirResponse:
    return filesystem_pb.WatchDirResponse(event=Oneof(name, value))  # type: ignore[arg-type]


class WatchService(Common):
    """The filesystem service's watch methods (FilesystemService in envd.py mixes them in)."""

    def __init__(self, fleet: Fleet) -> None:
        super().__init__(fleet)
        self._watchers: dict[str, Watcher] = {}
        self._watchers_lock = threading.Lock()

    def _table(self) -> dict[str, Watcher]:
        """The server's watchers, without those whose sandbox is gone."""
        with self._watchers_lock:
            for watcher_id, watcher in list(self._watchers.items()):
                if watcher.box.dead:
                    del self._watchers[watcher_id]
        return self._watchers

    def _watcher(self, ctx: Any, watcher_id: str) -> Watcher:
        box, _ = self.box(ctx)
        watcher = self._table().get(watcher_id)
        if watcher is None or watcher.box is not box:
            raise ConnectError(Code.NOT_FOUND, f"watcher with id {watcher_id} not found")
        return watcher

    def create_watcher(
        self, request: filesystem_pb.CreateWatcherRequest, ctx: Any
    ) -> filesystem_pb.CreateWatcherResponse:
        box, user = self.box(ctx)
        watcher = Watcher(box, request.path, bool(request.recursive), user)
        watcher_id = "w" + uuid.uuid4().hex[:19]
        table = self._table()
        with self._watchers_lock:
            table[watcher_id] = watcher
        return filesystem_pb.CreateWatcherResponse(watcher_id=watcher_id)

    def get_watcher_events(
        self, request: filesystem_pb.GetWatcherEventsRequest, ctx: Any
    ) -> filesystem_pb.GetWatcherEventsResponse:
        watcher = self._watcher(ctx, request.watcher_id)
        taken = watcher.take()
        if taken is None:
            raise ConnectError(Code.INTERNAL, f"watcher error: {watcher.error}")
        return filesystem_pb.GetWatcherEventsResponse(events=[_event(k, n) for k, n in taken])

    def remove_watcher(
        self, request: filesystem_pb.RemoveWatcherRequest, ctx: Any
    ) -> filesystem_pb.RemoveWatcherResponse:
        watcher = self._watcher(ctx, request.watcher_id)
        with self._watchers_lock:
            self._watchers.pop(request.watcher_id, None)
        watcher.close()
        return filesystem_pb.RemoveWatcherResponse()

    def watch_dir(
        self, request: filesystem_pb.WatchDirRequest, ctx: Any
    ) -> Iterator[filesystem_pb.WatchDirResponse]:
        box, user = self.box(ctx)
        interval = float(ctx.request_headers.get("keepalive-ping-interval") or 50)
        watcher = Watcher(box, request.path, bool(request.recursive), user)
        try:
            yield _response("start", filesystem_pb.WatchDirResponse.StartEvent())
            while True:
                # Wake at least every few seconds: a yield is how a gone client is noticed.
                taken = watcher.take(timeout=min(interval, 5.0))
                if taken is None:
                    raise ConnectError(Code.INTERNAL, f"watcher error: {watcher.error}")
                if not taken:
                    yield _response("keepalive", filesystem_pb.WatchDirResponse.KeepAlive())
                for kind, name in taken:
                    yield _response("filesystem", _event(kind, name))
        finally:
            watcher.close()
