"""A job's sandbox as its worker holds it: another thread (a cancel) can stop it at once, and
the job's cancel flag is checked at every step."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from promptkiln.sandbox.base import InputFile, OutputEntry, RunResult, Sandbox
from promptkiln.sandbox.live import OutputSink, Throttle, run_live
from promptkiln.server.live_output import OutputEvents


class JobCancelled(BaseException):
    """Raised inside a cancelled job's thread (a BaseException, so no handler swallows it)."""


class Checked(Protocol):
    id: str
    home: Path

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled."""


class CancellableSandbox:
    """A sandbox another thread can stop at once: :meth:`kill` closes the inner one."""

    def __init__(self, inner: Sandbox, job: Checked) -> None:
        self.inner = inner
        self.info = inner.info
        self.job = job
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        self.job.check()
        self.inner.start()
        with self._lock:
            self._started = True
        self.job.check()

    @property
    def started(self) -> bool:
        with self._lock:
            return self._started

    def put_inputs(self, files: Sequence[InputFile], script: bytes) -> None:
        self.inner.put_inputs(files, script)

    def run(
        self, argv: Sequence[str], *, timeout_s: float, on_output: OutputSink | None = None
    ) -> RunResult:
        """The run, its output streamed as the job's ``output`` events while it runs."""
        self.job.check()
        events = OutputEvents(self.job.home, self.job.id)
        throttle = Throttle(events.emit)

        def sink(stream: str, data: bytes) -> None:
            throttle(stream, data)
            if on_output is not None:
                on_output(stream, data)

        try:
            return run_live(self.inner, argv, timeout_s=timeout_s, on_output=sink)
        finally:
            throttle.close()
            events.close()

    def outputs(self) -> Iterator[OutputEntry]:
        self.job.check()
        return self.inner.outputs()

    def kill(self) -> None:
        with self._lock:
            if self._started:
                # A pooled sandbox closes in the background; a cancel removes it now.
                getattr(self.inner, "remove_now", self.inner.close)()

    def close(self) -> None:
        with self._lock:
            self.inner.close()

    def __enter__(self) -> CancellableSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
