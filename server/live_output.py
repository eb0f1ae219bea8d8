"""A job's live output: the script's stdout and stderr as ``output`` events while it runs.

The sandbox's reader thread (and the throttle's timer) only put events on a queue; one writer
thread per run stores them as the job's events, in order, with its own store connection (the
SQLite connections of :mod:`promptkiln.server.db` stay in their thread). The reader never waits
on the database, and the events are bounded as the output is: by the log cap per stream
(``[limits] log_bytes``) and by the throttle (:mod:`promptkiln.sandbox.live`: at most one flush
per 0.25 s, each event at most 8 KiB of text).

    event "output"  {"stream": "stdout" | "stderr", "text": "..."}
"""

from __future__ import annotations

import logging
import queue as queues
import threading
from pathlib import Path

from promptkiln.server import queue
from promptkiln.server.db import close_thread_stores, store_for

_END = None


class OutputEvents:
    """The ``output`` events of one run: :meth:`emit` from any thread, :meth:`close` waits
    until every event is stored."""

    def __init__(self, home: Path, job_id: str) -> None:
        self.home = home
        self.job_id = job_id
        self._queue: queues.SimpleQueue[tuple[str, str] | None] = queues.SimpleQueue()
        self._thread = threading.Thread(
            target=self._write, name="promptkiln-job-output", daemon=True
        )
        self._thread.start()

    def emit(self, stream: str, text: str) -> None:
        self._queue.put((stream, text))

    def close(self, timeout_s: float = 10.0) -> None:
        self._queue.put(_END)
        self._thread.join(timeout=timeout_s)

    def _write(self) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                stream, text = item
                try:
                    queue.append_event(
                        store_for(self.home),
                        self.job_id,
                        "output",
                        {"stream": stream, "text": text},
                    )
                except Exception:  # a lost output event must never fail the job
                    logging.getLogger("promptkiln.server").warning(
                        "job %s: an output event could not be stored", self.job_id, exc_info=True
                    )
        finally:
            close_thread_stores()


__all__ = ["OutputEvents"]
