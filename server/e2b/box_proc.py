"""A process started through envd's Start in a served sandbox (box.py): its events, fanned out to
Start's stream and to Connect's subscribers, and its stdin over docker exec's hijacked socket."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker.utils.socket


@dataclass
class Proc:
    """A process started through envd's Start: :meth:`emit` hands its output to ``events``
    (Start's stream) and to the queue of every subscriber (:meth:`subscribe`, for Connect)."""

    pid: int
    user: str
    cmd: str
    args: list[str]
    envs: dict[str, str]
    cwd: str | None
    tag: str | None
    started: float = field(default_factory=time.time)
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    done: threading.Event = field(default_factory=threading.Event)
    #: The socket of ``docker exec`` whose write side is the process's stdin (Start with
    #: ``stdin: true``); None: the process has no stdin.
    stdin: Any = None
    _stdin_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Connect's queues; ``_ended`` once the end (or "gone") event went out, so a late
    #: subscriber is told there is nothing left instead of waiting forever.
    _listeners: list[queue.Queue[tuple[str, Any]]] = field(default_factory=list)
    _listen_lock: threading.Lock = field(default_factory=threading.Lock)
    _ended: bool = False

    def emit(self, kind: str, value: Any) -> None:
        """Hand one event to Start's stream and to every Connect subscriber."""
        with self._listen_lock:
            self.events.put((kind, value))
            for listener in self._listeners:
                listener.put((kind, value))
            if kind in ("end", "gone"):
                self._ended = True

    def subscribe(self) -> queue.Queue[tuple[str, Any]] | None:
        """A queue of the events from now on; None when the process has already ended."""
        with self._listen_lock:
            if self._ended:
                return None
            listener: queue.Queue[tuple[str, Any]] = queue.Queue()
            self._listeners.append(listener)
            return listener

    def unsubscribe(self, listener: queue.Queue[tuple[str, Any]]) -> None:
        with self._listen_lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def write(self, data: bytes) -> bool:
        """Send ``data`` to the process's stdin; False when it has none (or it was closed)."""
        if self.stdin is None:
            return False
        with self._stdin_lock:
            try:
                self.stdin.sendall(data)
            except OSError:
                return False
        return True

    def close_stdin(self) -> bool:
        """End the process's stdin (it reads EOF); False when it has none."""
        if self.stdin is None:
            return False
        with self._stdin_lock:
            try:
                self.stdin.shutdown(socket.SHUT_WR)
            except OSError:
                return False
            self.stdin = None
        return True


def demuxed(sock: Any) -> Iterator[tuple[bytes | None, bytes | None]]:
    """(stdout, stderr) chunks of an exec's hijacked socket, as ``demux=True`` gives them."""
    for kind, data in docker.utils.socket.frames_iter(sock, tty=False):  # type: ignore[no-untyped-call]
        yield (data, None) if kind == docker.utils.socket.STDOUT else (None, data)
