"""What a replica knows about the sandbox cluster's capacity, and what it does about it.

    bound       the live sandboxes this replica runs at most: its worker count (a job holds
                one sandbox at a time)
    full        the cluster refused a sandbox (``BackendAtCapacity``: E2B's 429 "sandbox
                limit" or 503) less than ``e2b.capacity_cooldown`` seconds ago

While the cluster is full:

- this replica's workers claim no job (a claim would meet the same refusal);
- a submission answers 503 ``capacity`` with ``Retry-After`` (the rest of the cooldown) once
  ``bound`` jobs already wait: they take every worker of this replica the moment the cluster
  has room, and more would only wait, or fail, later;
- a job whose sandbox was refused before anything was recorded for it (no run record; a new
  session it started is removed; a follow-up keeps its failed turn) goes back to the queue
  with its place kept, at most ``e2b.capacity_requeues`` times; after that, or once a run
  record was written, it fails with the code ``capacity`` and a hint to submit it again.

Each replica keeps its own view, in memory: another replica learns at its own first refusal.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from promptkiln.server.errors import ApiError


class Capacity:
    """The replica's bound and the cluster's last "at capacity" answer, with a cooldown."""

    def __init__(
        self,
        bound: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bound = max(1, bound)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._until = 0.0
        self.message = ""

    def note_full(self, message: str) -> None:
        """The cluster just answered "at capacity" (``message`` is its answer)."""
        with self._lock:
            self._until = self._clock() + self.cooldown_s
            self.message = message

    def remaining(self) -> float:
        """Seconds the cluster is still treated as full (0: it is not)."""
        with self._lock:
            return max(0.0, self._until - self._clock())

    def admit(self, queued: int) -> None:
        """Refuse a new job with 503 ``capacity`` while the cluster is full and ``queued`` jobs
        (at least the bound) already wait; called by :func:`promptkiln.server.queue.submit`."""
        left = self.remaining()
        if left <= 0 or queued < self.bound:
            return
        raise ApiError(
            503,
            "capacity",
            f"the sandbox cluster is at capacity ({self.message}) and {queued} job(s) already "
            "wait for it; this job was not queued",
            hint="submit it again after the Retry-After seconds; if this persists, raise the "
            "cluster's concurrent sandbox limit or lower the replicas' --workers",
            headers={"Retry-After": str(max(1, math.ceil(left)))},
        )
