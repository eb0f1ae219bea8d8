"""Live output: what the script writes to stdout and stderr, shown while it runs.

A backend's ``run(argv, timeout_s=..., on_output=sink)`` calls ``sink(stream, data)`` from its
reader thread with every piece of output it *keeps* (``stream`` is ``"stdout"`` or
``"stderr"``). Only kept bytes are handed over, so the log cap (``[limits] log_bytes`` per
stream) bounds what is shown live exactly as it bounds the run's captured output.

    Docker   the exec's attach stream, demuxed by the reader thread (plain and warm runs)
    E2B      the SDK's ``on_stdout`` / ``on_stderr`` callbacks (commands and kernel mode)

:class:`Throttle` turns the pieces into a bounded number of events for a listener (the job's
``output`` events, the CLI's ``--live`` lines): text decoded per stream (a UTF-8 sequence split
between two pieces is joined), at most one flush per ``interval_s``, each event at most
``max_event_bytes``. :func:`run_live` runs a command with a sink when the backend takes one
(a third-party backend without the keyword still runs, without live output);
:func:`run_throttled` and :class:`LiveSandbox` put a throttle between the two.
"""

from __future__ import annotations

import codecs
import inspect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from promptkiln.sandbox.base import RunResult

#: ``sink(stream, data)``: ``stream`` is "stdout" or "stderr"; called from a reader thread.
OutputSink = Callable[[str, bytes], None]
#: ``emit(stream, text)``: one output event.
OutputEmit = Callable[[str, str], None]

STREAMS = ("stdout", "stderr")
INTERVAL_S = 0.25
MAX_EVENT_BYTES = 8 * 1024


class Throttle:
    """Batches a run's output into events: at most one flush per ``interval_s`` (a timer flushes
    what waits, so a lone ``print`` before a long computation still shows), each event's text
    at most ``max_event_bytes``. Thread-safe; :meth:`close` flushes the rest. An error of the
    listener is kept in :attr:`error` and ends live output, never the run."""

    def __init__(
        self,
        emit: OutputEmit,
        *,
        interval_s: float = INTERVAL_S,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._emit = emit
        self._interval = interval_s
        self._max = max_event_bytes
        self._lock = threading.Lock()
        self._decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in STREAMS}
        self._pending: list[tuple[str, str]] = []
        self._last = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False
        self.error: BaseException | None = None
        self.events = 0

    def __call__(self, stream: str, data: bytes) -> None:
        with self._lock:
            if self._closed or self.error is not None:
                return
            text = self._decoders[stream].decode(data)
            if text:
                self._add(stream, text)
            wait = self._last + self._interval - time.monotonic()
            if wait <= 0:
                self._flush_locked()
            elif self._timer is None and self._pending:
                self._timer = threading.Timer(wait, self._on_timer)
                self._timer.daemon = True
                self._timer.start()

    def _add(self, stream: str, text: str) -> None:
        if self._pending and self._pending[-1][0] == stream:
            self._pending[-1] = (stream, self._pending[-1][1] + text)
        else:
            self._pending.append((stream, text))

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed:
                self._flush_locked()

    def _flush_locked(self) -> None:
        pending, self._pending = self._pending, []
        self._last = time.monotonic()
        for stream, text in pending:
            for piece in _pieces(text, self._max):
                if self.error is not None:
                    return
                try:
                    self._emit(stream, piece)
                    self.events += 1
                except BaseException as exc:  # the listener's problem ends live output only
                    self.error = exc
                    return

    def close(self) -> None:
        """Flush what is left (with the end of a split UTF-8 sequence) and stop the timer."""
        with self._lock:
            if self._closed:
                return
            for stream in STREAMS:
                tail = self._decoders[stream].decode(b"", final=True)
                if tail:
                    self._add(stream, tail)
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self.error is None:
                self._flush_locked()
            self._closed = True


def _pieces(text: str, max_bytes: int) -> list[str]:
    """``text`` in pieces of at most ``max_bytes`` UTF-8 bytes, never splitting a character."""
    out: list[str] = []
    data = text.encode("utf-8")
    while data:
        cut = min(len(data), max_bytes)
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # back to the start of a character
        out.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    return out


def takes_sink(sandbox: Any) -> bool:
    """Whether ``sandbox.run`` accepts ``on_output`` (every built-in backend does)."""
    try:
        params = inspect.signature(sandbox.run).parameters
    except (TypeError, ValueError):
        return False
    return "on_output" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def run_live(
    sandbox: Any, argv: Sequence[str], *, timeout_s: float, on_output: OutputSink | None
) -> RunResult:
    """``sandbox.run``, with ``on_output`` when there is one and the backend takes it."""
    if on_output is not None and takes_sink(sandbox):
        result: RunResult = sandbox.run(argv, timeout_s=timeout_s, on_output=on_output)
        return result
    plain: RunResult = sandbox.run(argv, timeout_s=timeout_s)
    return plain


def run_throttled(
    sandbox: Any, argv: Sequence[str], *, timeout_s: float, emit: OutputEmit
) -> RunResult:
    """``sandbox.run`` with its output turned into events for ``emit`` (throttled, flushed at
    the end of the run whatever the outcome)."""
    throttle = Throttle(emit)
    try:
        return run_live(sandbox, argv, timeout_s=timeout_s, on_output=throttle)
    finally:
        throttle.close()


class LiveSandbox:
    """A sandbox whose runs hand their output to ``emit`` as it comes, throttled (the CLI's
    ``--live``); everything else is the inner sandbox's."""

    def __init__(self, inner: Any, emit: OutputEmit) -> None:
        self.inner = inner
        self.info = inner.info
        self._emit = emit

    def start(self) -> None:
        self.inner.start()

    def put_inputs(self, files: Sequence[Any], script: bytes) -> None:
        self.inner.put_inputs(files, script)

    def run(self, argv: Sequence[str], *, timeout_s: float) -> RunResult:
        return run_throttled(self.inner, argv, timeout_s=timeout_s, emit=self._emit)

    def outputs(self) -> Any:
        return self.inner.outputs()

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> LiveSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "INTERVAL_S",
    "MAX_EVENT_BYTES",
    "LiveSandbox",
    "OutputEmit",
    "OutputSink",
    "Throttle",
    "run_live",
    "run_throttled",
    "takes_sink",
]
