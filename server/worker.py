"""A bounded pool of worker threads that take jobs from the queue and run them.

At start-up, jobs left running by a dead server are marked interrupted and the sandboxes of
dead owners reaped (the same sweep ``promptkiln gc`` uses). While it runs, a heartbeat thread
renews the leases of this replica's jobs (every third of ``job_lease``), records the replica as
seen, and marks interrupted the jobs of replicas whose leases expired. While the sandbox cluster
says it is at capacity the workers take no job (:mod:`promptkiln.server.capacity`).
:meth:`WorkerPool.drain` stops taking jobs and waits for the running ones (SIGTERM); queued jobs
stay queued for the next start.

With the Docker backend and ``[pool] size`` > 0, the workers share a warm pool of single-use
sandboxes (:class:`promptkiln.sandbox.pool.SandboxPool`), started with the workers: each job
takes a started, warmed sandbox no job has touched, and the pool warms a replacement in the
background. Draining closes the pool and waits until every sandbox it made is removed.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

from promptkiln.config import Settings
from promptkiln.sandbox.pool import SandboxPool
from promptkiln.server import files, queue
from promptkiln.server.capacity import Capacity
from promptkiln.server.db import close_thread_stores, loads, store_for, store_unreachable
from promptkiln.server.execute import JobRun
from promptkiln.server.job_terms import job_settings
from promptkiln.server.metrics import Metrics

log = logging.getLogger("promptkiln.server")
IDLE_POLL_S = 0.5
CANCEL_POLL_S = 1.0


class WorkerPool:
    def __init__(self, home: Path, settings: Settings, metrics: Metrics, workers: int) -> None:
        self.home = home
        self.settings = settings
        self.metrics = metrics
        self.size = max(1, workers)
        self.owner = f"{os.getpid()}@{socket.gethostname()}"
        self.running: dict[str, JobRun] = {}
        #: The bound on live sandboxes (one per worker) and the cluster's last "at capacity".
        self.capacity = Capacity(self.size, settings.e2b.capacity_cooldown)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = time.time()
        self._beat_stop = threading.Event()  # after draining: leases hold while jobs finish
        #: The warm sandboxes the workers take from (None: every job starts a cold one).
        self.sandboxes: SandboxPool | None = None

    def recover(self) -> list[str]:
        """Mark jobs of dead servers interrupted and reap their sandboxes."""
        store = store_for(self.home)
        interrupted = queue.mark_interrupted(store)
        for job_id in interrupted:
            files.drop_job_files(store, job_id)
        self._reap()
        if interrupted:
            log.info("marked %d job(s) interrupted: %s", len(interrupted), ", ".join(interrupted))
        return interrupted

    def _reap(self) -> None:
        """Remove the sandboxes and scratch directories of owners known to be dead."""
        if self.settings.backend == "docker":
            try:
                from promptkiln.sandbox.docker import connect, reap

                reap(connect(self.settings.docker_host, timeout=10))
            except Exception as exc:  # the engine may be down; /readyz says so
                log.warning("could not sweep leftover sandboxes: %s", exc)
        elif self.settings.backend == "e2b":
            store = store_for(self.home)
            lease = self.settings.job_lease

            def gone(pid: str, host: str) -> bool:
                return queue.replica_gone(store, f"{pid}@{host}", lease)

            try:
                from promptkiln.sandbox.e2b_ops import reap as reap_e2b

                reap_e2b(self.settings, gone=gone)
            except Exception as exc:  # the cluster may be unreachable; /readyz says so
                log.warning("could not sweep leftover E2B sandboxes: %s", exc)
        from promptkiln import leftovers

        leftovers.sweep()

    def start(self) -> None:
        if self.settings.backend == "docker" and self.settings.pool.size > 0:
            self.sandboxes = SandboxPool(self.settings)
            log.info(
                "warm pool: %d sandbox(es), idle lifetime %g s",
                self.sandboxes.size,
                self.sandboxes.idle_s,
            )
        for n in range(self.size):
            t = threading.Thread(target=self._loop, name=f"promptkiln-worker-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        watcher = threading.Thread(
            target=self._watch_cancels, name="promptkiln-cancels", daemon=True
        )
        watcher.start()
        beat = threading.Thread(target=self._heartbeat, name="promptkiln-heartbeat", daemon=True)
        beat.start()

    def _heartbeat(self) -> None:
        """Renew this replica's leases, record it as seen, expire dead replicas' leases."""
        lease = self.settings.job_lease
        try:
            while True:
                with self._lock:
                    ids = list(self.running)
                try:
                    store = store_for(self.home)
                    queue.heartbeat(store, self.owner, ids, lease, self.started)
                    expired = queue.expire_leases(store)
                    for job_id in expired:
                        files.drop_job_files(store, job_id)
                        log.info("job %s: its replica's lease expired; interrupted", job_id)
                    if expired:
                        self._reap()
                except Exception:
                    log.exception("heartbeat failed")
                if self._beat_stop.wait(lease / 3):
                    break
        finally:
            close_thread_stores()

    def _watch_cancels(self) -> None:
        """Cancel requests that reached the store through another server process."""
        try:
            while not self._stopping.wait(CANCEL_POLL_S):
                with self._lock:
                    ids = list(self.running)
                for job_id in ids:
                    try:
                        _, requested = queue.job_status(store_for(self.home), job_id)
                    except Exception:
                        log.exception("reading the cancel flag of %s failed", job_id)
                        continue
                    if requested:
                        self.cancel(job_id)
        finally:
            close_thread_stores()

    def wake(self) -> None:
        """A job was queued: let an idle worker look now."""
        self._wake.set()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                cooling = self.capacity.remaining()
                if cooling > 0:  # the cluster is full: a job taken now would only be refused
                    self._stopping.wait(min(cooling, IDLE_POLL_S))
                    continue
                try:
                    job = queue.claim_next_job(
                        store_for(self.home), self.owner, self.settings.job_lease
                    )
                except Exception as exc:
                    if not store_unreachable(exc):
                        log.exception("claiming a job failed")
                    else:  # PostgreSQL restarting: wait for it, quietly
                        log.warning("claiming a job: the store is unreachable")
                        self._stopping.wait(1.0)
                    job = None
                if job is None:
                    self._wake.wait(IDLE_POLL_S)
                    self._wake.clear()
                    continue
                self._run(job)
        finally:
            close_thread_stores()

    def _run(self, row: sqlite3.Row) -> None:
        request = loads(row["request"])
        try:
            settings = job_settings(self.settings, request)
        except Exception:
            settings = self.settings
        run = JobRun(row, self.home, settings, self.metrics, self.capacity, pool=self.sandboxes)
        with self._lock:
            self.running[run.id] = run
        log.info("job %s (%s, tenant %s) started", run.id, row["kind"], row["tenant_id"])
        try:
            run.execute()
            log.info("job %s finished", run.id)
        except Exception:
            log.exception("job %s: finishing failed", run.id)
        finally:
            with self._lock:
                self.running.pop(run.id, None)

    def cancel(self, job_id: str) -> bool:
        """Stop a job running in this process at once; False if it does not run here."""
        with self._lock:
            run = self.running.get(job_id)
        if run is None:
            return False
        if not run.cancelled.is_set():
            run.cancel()
        return True

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self.running)

    def drain(self, timeout: float | None = None) -> None:
        """Take no more jobs; wait for the running ones to finish."""
        self._stopping.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        self._beat_stop.set()
        if self.sandboxes is not None:
            self.sandboxes.close(wait=True)
