"""A warm pool of Docker sandboxes: started, locked down, single-use.

API (for ``promptkiln serve`` and anything else that runs many jobs)::

    pool = SandboxPool(settings, size=2, idle_s=300)   # size 0: no pool, every job cold
    sandbox = pool.acquire()       # a started Sandbox (the base protocol); start() is a no-op
    with sandbox:                  # or run_in_sandbox(..., factory=pool.factory)
        sandbox.put_inputs(files, script)
        sandbox.run(["python3", SCRIPT_PATH], timeout_s=...)
        ...outputs()...
    pool.close(wait=True)          # removes what is still waiting (and waits); idempotent

Each pooled sandbox is created with exactly the flags of a cold one
(:class:`promptkiln.sandbox.docker.DockerSandbox`) and then *warmed*: its warm interpreter has
imported the document stack and waits for a job (:mod:`promptkiln.sandbox.docker_warm`). A
sandbox is handed to one job only; closing it removes it on a background thread (off the
job's critical path) and the pool starts a replacement. A sandbox that waited longer than
``idle_s`` is removed and replaced, so nothing sits warm for hours; its deadline label covers
``idle_s`` plus the time limit, so a crashed owner's sandboxes are reaped as usual. When the
pool is empty, :meth:`acquire` starts a cold sandbox in the caller's thread instead of waiting.

The CLI has no long-lived process: ``promptkiln make`` opens a pool of one at its start, so the
sandbox starts and warms *while the model is still generating*, and the job finds it ready.
``promptkiln serve`` keeps a pool of ``[pool] size`` while it runs (its workers take from it the
jobs whose limits the pooled sandboxes were made with: :meth:`SandboxPool.fits`), and closes it,
waiting for every removal, when it shuts down.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING

from promptkiln.errors import PromptkilnError
from promptkiln.sandbox.base import InputFile, OutputEntry, RunResult, SandboxInfo
from promptkiln.sandbox.docker import DockerSandbox
from promptkiln.sandbox.live import OutputSink

if TYPE_CHECKING:
    from promptkiln.config import Settings

#: Memory charged to one warm, idle sandbox (the interpreter with the document stack imported,
#: tini, sleep), as `make bench` measures it; shown by ``promptkiln doctor``.
WARM_SANDBOX_MIB = 100
#: Seconds between the pool's checks for expired sandboxes when nothing else wakes it.
TICK_S = 5.0


@dataclass
class _Ready:
    sandbox: DockerSandbox
    since: float


class PooledSandbox:
    """A sandbox taken from the pool: already started; closing it removes it in the background."""

    def __init__(self, inner: DockerSandbox, pool: SandboxPool, *, warm: bool) -> None:
        self.inner = inner
        self.info: SandboxInfo = inner.info
        self._pool = pool
        self._warm = warm
        self._closed = False

    def start(self) -> None:
        """Already started (and warmed) by the pool."""

    def put_inputs(self, files: Sequence[InputFile], script: bytes) -> None:
        self.inner.put_inputs(files, script)

    def run(
        self, argv: Sequence[str], *, timeout_s: float, on_output: OutputSink | None = None
    ) -> RunResult:
        return self.inner.run(argv, timeout_s=timeout_s, on_output=on_output)

    def outputs(self) -> Iterator[OutputEntry]:
        return self.inner.outputs()

    def close(self) -> None:
        """Remove the sandbox on a background thread (off the job's critical path)."""
        self._close(self._pool._background)

    def remove_now(self) -> None:
        """Remove the sandbox in this thread (a cancel: gone when this returns)."""
        self._close(lambda target, name: target())

    def _close(self, how: Callable[[Callable[[], None], str], None]) -> None:
        if self._closed:
            return
        self._closed = True
        how(self.inner.close, "promptkiln-pool-remove")
        if self._warm:
            self._pool.release()

    def __enter__(self) -> PooledSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SandboxPool:
    """``size`` warm Docker sandboxes kept ready for :meth:`acquire`. See the module docstring."""

    def __init__(self, settings: Settings, size: int | None = None, idle_s: float | None = None):
        self.settings = settings
        self.size = settings.pool.size if size is None else size
        self.idle_s = settings.pool.idle if idle_s is None else idle_s
        self._ready: list[_Ready] = []
        self._warming = 0
        #: Warm sandboxes handed out and not yet closed: their replacements start when they
        #: close, so warming the next one does not take CPU from the job that is running.
        self._in_use = 0
        self._closed = False
        self._cond = threading.Condition()
        #: The last error met while warming (shown by ``doctor``); the pool keeps trying.
        self.last_error: PromptkilnError | None = None
        self._thread: threading.Thread | None = None
        #: Removal and warming threads (not daemons: the process waits for them at exit).
        self._threads: list[threading.Thread] = []
        if self.size > 0:
            self._thread = threading.Thread(target=self._keep, name="promptkiln-pool", daemon=True)
            self._thread.start()

    # -- public ----------------------------------------------------------------------------

    def acquire(self) -> PooledSandbox:
        """A started sandbox no job has touched: a warm one if ready, else a cold one."""
        with self._cond:
            if self._closed:
                raise PromptkilnError("the sandbox pool is closed")
            item = self._ready.pop(0) if self._ready else None
            self._cond.notify_all()
            if item is not None:
                self._in_use += 1
        if item is not None:
            return PooledSandbox(item.sandbox, self, warm=True)
        sandbox = self._new()
        try:
            sandbox.start()
        except BaseException:
            sandbox.close()
            raise
        return PooledSandbox(sandbox, self, warm=False)

    def fits(self, settings: Settings) -> bool:
        """Can a job with ``settings`` use this pool's sandboxes? Only when they were made
        with the same engine, image, runtime and limits (a container's memory, CPU, process
        and disk limits are fixed when it is created); a shorter time limit is fine, a longer
        one is not (the pooled sandbox's reaping deadline was set from the pool's)."""
        mine, theirs = self.settings, settings
        if (theirs.backend, theirs.image, theirs.runtime, theirs.docker_host) != (
            mine.backend,
            mine.image,
            mine.runtime,
            mine.docker_host,
        ):
            return False
        a, b = mine.limits.to_limits(), theirs.limits.to_limits()
        return b.timeout_s <= a.timeout_s and replace(b, timeout_s=a.timeout_s) == a

    def factory(self, settings: Settings, run_id: str) -> PooledSandbox:
        """A :data:`promptkiln.sandbox.registry.SandboxFactory` that takes from this pool."""
        return self.acquire()

    def release(self) -> None:
        """A warm sandbox handed out was closed: time to warm its replacement."""
        with self._cond:
            self._in_use = max(0, self._in_use - 1)
            self._cond.notify_all()

    def ready_count(self) -> int:
        with self._cond:
            return len(self._ready)

    def wait_ready(self, count: int | None = None, timeout_s: float = 120.0) -> bool:
        """Block until ``count`` (default: all) sandboxes are warm; False on timeout."""
        want = self.size if count is None else count
        end = time.monotonic() + timeout_s
        with self._cond:
            while len(self._ready) < want:
                left = end - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
        return True

    def close(self, *, wait: bool = False, timeout_s: float = 120.0) -> None:
        """Remove every waiting sandbox (in the background); sandboxes being warmed are removed
        when they are ready. Sandboxes already handed out are their holders' to close (their
        removal, once closed, is waited for too). ``wait``: return only when every removal
        this pool started has finished (or ``timeout_s`` passed)."""
        with self._cond:
            first = not self._closed
            self._closed = True
            ready, self._ready = self._ready, []
            self._cond.notify_all()
        if first:
            for item in ready:
                self._background(item.sandbox.close, "promptkiln-pool-remove")
        if wait:
            end = time.monotonic() + timeout_s
            if self._thread is not None:
                self._thread.join(max(0.0, end - time.monotonic()))
            while True:
                with self._cond:
                    alive = [t for t in self._threads if t.is_alive()]
                if not alive:
                    break
                for thread in alive:
                    thread.join(max(0.0, end - time.monotonic()))
                if time.monotonic() >= end:
                    break

    def _background(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name)
        with self._cond:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    # -- inside ----------------------------------------------------------------------------

    def _new(self) -> DockerSandbox:
        return DockerSandbox(self.settings, f"pool-{uuid.uuid4().hex[:12]}", lifetime_s=self.idle_s)

    def _keep(self) -> None:
        while True:
            expired: list[_Ready] = []
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                keep = [r for r in self._ready if now - r.since < self.idle_s]
                expired = [r for r in self._ready if now - r.since >= self.idle_s]
                self._ready = keep
                missing = self.size - len(self._ready) - self._warming - self._in_use
                if missing > 0:
                    self._warming += 1
            for item in expired:
                self._background(item.sandbox.close, "promptkiln-pool-remove")
            if missing > 0:
                self._background(self._warm_one, "promptkiln-pool-warm")
                continue
            with self._cond:
                if not self._closed:
                    self._cond.wait(TICK_S)

    def _warm_one(self) -> None:
        sandbox = self._new()
        ok = False
        try:
            sandbox.start()
            sandbox.warm()
            ok = True
        except PromptkilnError as exc:
            self.last_error = exc
            time.sleep(TICK_S)  # a broken engine or image: do not spin
        finally:
            with self._cond:
                self._warming -= 1
                keep = ok and not self._closed
                if keep:
                    self._ready.append(_Ready(sandbox, time.monotonic()))
                self._cond.notify_all()
            if not keep:
                with suppress(Exception):
                    sandbox.close()


__all__ = ["WARM_SANDBOX_MIB", "PooledSandbox", "SandboxPool"]
