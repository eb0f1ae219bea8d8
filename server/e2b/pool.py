"""A warm pool of started sandboxes per template, so a create is one ``docker exec`` away.

A pooled box is an unclaimed container (no tenant, no network, the code-interpreter kernel
already listening where the template has one) whose own deadline is ``ttl`` seconds: if the
server dies, the pool dies with it. A thread keeps ``size`` boxes per template, replaces those
close to their deadline, and refills after every :meth:`Pool.take`. A box is never reused: a
taken box belongs to one sandbox until it ends.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from promptkiln.server.e2b.box import Box

log = logging.getLogger("promptkiln.server.e2b")
#: Seconds between a take and the refill it causes.
REFILL_DELAY_S = 2.0


class Pool:
    def __init__(
        self,
        make: Callable[[str, float], Box],
        sizes: dict[str, int],
        *,
        ttl: float = 600.0,
    ) -> None:
        self._make = make
        self.sizes = {t: n for t, n in sizes.items() if n > 0}
        self.ttl = ttl
        self._boxes: dict[str, list[tuple[Box, float]]] = {t: [] for t in self.sizes}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.sizes:
            return
        self._thread = threading.Thread(target=self._run, name="e2b-pool", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        with self._lock:
            boxes = [b for entries in self._boxes.values() for b, _ in entries]
            for entries in self._boxes.values():
                entries.clear()
        for box in boxes:
            box.destroy()

    def ready(self, template: str) -> int:
        with self._lock:
            return len(self._boxes.get(template, ()))

    def _refill_soon(self) -> None:
        """Refill a moment after a take: the taken sandbox's first command (the number a
        client waits on) does not then compete with a container start."""
        timer = threading.Timer(REFILL_DELAY_S, self._wake.set)
        timer.daemon = True
        timer.start()

    def take(self, template: str) -> Box | None:
        """A warm box of ``template`` with at least a minute left, or None."""
        with self._lock:
            entries = self._boxes.get(template, [])
            while entries:
                box, deadline = entries.pop(0)
                if deadline - time.time() > 60:
                    self._refill_soon()
                    return box
                threading.Thread(target=box.destroy, daemon=True).start()
        self._wake.set()
        return None

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                self._fill()
            except Exception:  # a failed start (docker busy): try again on the next round
                log.exception("the E2B warm pool could not start a sandbox")
                self._stopped.wait(5)
            self._wake.wait(30)

    def _fill(self) -> None:
        for template, size in self.sizes.items():
            with self._lock:
                entries = self._boxes[template]
                stale = [e for e in entries if e[1] - time.time() < 120]
                for e in stale:
                    entries.remove(e)
                missing = size - len(entries)
            for box, _ in stale:
                with contextlib.suppress(Exception):
                    box.destroy()
            for _ in range(missing):
                if self._stopped.is_set():
                    return
                deadline = time.time() + self.ttl
                box = self._make(template, deadline)
                with self._lock:
                    self._boxes[template].append((box, deadline))
