"""Run one job with the same functions the CLI calls: ``sessions.run_turn`` for ``make`` and
``continue`` (as ``promptkiln make`` / ``promptkiln continue``), ``pipeline.run_in_sandbox`` for
``run``. Progress lines, the token meter, the script's output while it runs
(:mod:`promptkiln.server.live_output`) and attempt outcomes become the job's events.

Cancelling sets a flag every callback checks and closes the job's sandbox from the canceller's
thread at once; files are registered only for a finished job, so nothing partial is delivered.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln import leftovers
from promptkiln.config import Settings
from promptkiln.errors import (
    BackendAtCapacity,
    EngineError,
    PlatformError,
    PromptkilnError,
)
from promptkiln.making.attempt import Attempt
from promptkiln.making.pipeline import raise_for_run, run_in_sandbox
from promptkiln.records.records import record_sandbox_run
from promptkiln.sandbox.base import Sandbox
from promptkiln.server import files as filestore
from promptkiln.server import queue
from promptkiln.server.capacity import Capacity
from promptkiln.server.db import loads, store_for, store_unreachable, through_outage
from promptkiln.server.errors import ApiError, job_error
from promptkiln.server.failures import explain_attempt, explain_run
from promptkiln.server.job_sandbox import CancellableSandbox, JobCancelled
from promptkiln.server.job_terms import attempt_json, reason_of, unmet_status
from promptkiln.server.metrics import Metrics

if TYPE_CHECKING:
    from promptkiln.records.store import Store
    from promptkiln.sandbox.pool import SandboxPool

TOKEN_EVENT_INTERVAL_S = 0.5
log = logging.getLogger("promptkiln.server")


class JobRun:
    """One job in one worker thread: its events, its sandboxes, its cancel flag."""

    def __init__(
        self,
        job: Any,
        home: Path,
        settings: Settings,
        metrics: Metrics,
        capacity: Capacity | None = None,
        *,
        pool: SandboxPool | None = None,
    ) -> None:
        self.job = job
        self.capacity = capacity
        self.pool = pool
        self.runs_linked = 0
        self.id: str = job["id"]
        self.home = home
        self.settings = settings
        self.metrics = metrics
        self.cancelled = threading.Event()
        self.sandboxes: list[CancellableSandbox] = []
        self.tokens = 0
        self.token_started = 0.0
        self.token_sent = 0.0
        self.session_id: str | None = None
        self.last_attempt: Attempt | None = None  #: what a failed job's error explains

    # -- hooks the pipeline calls -------------------------------------------------------------

    def check(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelled

    def cancel(self) -> None:
        self.cancelled.set()
        for sandbox in list(self.sandboxes):
            sandbox.kill()

    def factory(self, settings: Settings, run_id: str) -> Sandbox:
        from promptkiln.sandbox.registry import create_sandbox

        inner: Sandbox
        if self.pool is not None and self.pool.fits(settings):
            inner = self.pool.acquire()  # warm when one is ready, else started cold now
        else:
            inner = create_sandbox(settings.backend, settings, run_id)
        sandbox = CancellableSandbox(inner, self)
        self.sandboxes.append(sandbox)
        return sandbox

    def event(self, type_: str, data: dict[str, Any]) -> None:
        """Record an event; while the store is unreachable (a PostgreSQL restart) a progress
        line is dropped rather than failing the job (the job's end is recorded after it)."""
        try:
            queue.append_event(store_for(self.home), self.id, type_, data)
        except Exception as exc:
            if not store_unreachable(exc):
                raise
            log.warning("job %s: event %s not recorded: the store is unreachable", self.id, type_)

    def progress(self, message: str) -> None:
        self.check()
        self.event("progress", {"message": message})

    def on_token(self, _: str) -> None:
        self.check()
        now = time.monotonic()
        if not self.tokens:
            self.token_started = self.token_sent = now
        self.tokens += 1
        if now - self.token_sent >= TOKEN_EVENT_INTERVAL_S:
            self.token_sent = now
            self._token_event(now)

    def _token_event(self, now: float) -> None:
        rate = self.tokens / max(now - self.token_started, 1e-6)
        self.event("tokens", {"count": self.tokens, "tokens_per_s": round(rate, 1)})

    def on_attempt(self, attempt: Attempt, run_id: str) -> None:
        self.last_attempt = attempt
        self._link_run(run_id)
        run = attempt.run
        if run is not None:
            self.metrics.observe("promptkiln_sandbox_start_seconds", run.timings.get("start_s", 0))
            self.metrics.observe("promptkiln_sandbox_run_seconds", run.timings.get("run_s", 0))
        if self.tokens and attempt.generation_s > 0:
            self.metrics.observe(
                "promptkiln_generation_tokens_per_second", self.tokens / attempt.generation_s
            )
            self._token_event(time.monotonic())
        self.tokens = 0
        self.event("attempt", attempt_json(attempt, run_id))

    def _link_run(self, run_id: str) -> None:
        from promptkiln.server.sessions import link_run

        job = self.job
        through_outage(
            self.home, lambda s: link_run(s, run_id, job["tenant_id"], job["key_id"], self.id)
        )
        self.runs_linked += 1

    @property
    def record_extra(self) -> dict[str, Any]:
        return {"tenant": self.job["tenant_id"], "key_id": self.job["key_id"], "job_id": self.id}

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> None:
        """Run the job to its end and record the outcome; never raises for the job's failures."""
        request = loads(self.job["request"])
        work = leftovers.owned_tempdir("job")
        store = store_for(self.home)
        status: str = "failed"
        result: dict[str, Any] = {}
        error: dict[str, Any] | None = None
        session_id: str | None = None
        requeued = False
        try:
            inputs = self._write_inputs(request.get("inputs") or [], work / "in")
            out = work / "out"
            if self.job["kind"] == "run":
                status, result, error = self._run_script(request, inputs, out)
            else:
                result, session_id = self._turn(request, inputs, out)
                status = "succeeded"
                if result["status"] == "unmet":
                    status, error = unmet_status(result, self.settings)
            self.check()
            through_outage(self.home, lambda s: self._register(s, out))
        except JobCancelled:
            status, error = "cancelled", None
        except (BackendAtCapacity, EngineError) as exc:
            # Refused before its sandbox started (the cluster at capacity, the engine down or
            # restarting): back in the queue while the workers hold off. Lost mid-run: failed.
            refused = isinstance(exc, BackendAtCapacity) or not any(
                s.started for s in self.sandboxes
            )
            requeued = refused and self._requeue(exc)
            asked = self.cancelled.is_set() or queue.job_status(store, self.id)[1]
            status, error = ("cancelled", None) if asked else ("failed", job_error(exc))
            if error is not None and refused:
                error["hint"] = (
                    "the sandbox cluster stayed at capacity; submit the job again in a minute "
                    "(the operator can raise the cluster's concurrent sandbox limit)"
                    if isinstance(exc, BackendAtCapacity)
                    else "the Docker engine stayed unreachable; submit the job again once it is "
                    "back (`promptkiln doctor` checks it)"
                )
        except ApiError as exc:  # an input file that is gone
            status = "failed"
            error = {"code": exc.code, "message": exc.message, "hint": exc.hint, "exit_code": 64}
        except PromptkilnError as exc:
            status, error = (
                ("cancelled", None) if self.cancelled.is_set() else ("failed", job_error(exc))
            )
            if error is not None and (why := explain_attempt(self.last_attempt)) is not None:
                error.update(why.to_json())
        except Exception as exc:  # a bug of ours: the job says so, the log has the traceback
            import logging

            logging.getLogger("promptkiln.server").exception("job %s failed", self.id)
            status = "cancelled" if self.cancelled.is_set() else "failed"
            error = (
                None
                if status == "cancelled"
                else {
                    "code": "internal_error",
                    "message": f"internal error ({type(exc).__name__}) while running the job",
                    "hint": "this is a promptkiln bug; the server log has the details",
                    "exit_code": 70,
                }
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if requeued:
            self.metrics.inc("promptkiln_jobs_requeued_total", reason=reason_of(error))
            return
        if status == "cancelled":
            through_outage(self.home, lambda s: filestore.drop_job_files(s, self.id))
        self.metrics.inc("promptkiln_jobs_finished_total", status=status, kind=self.job["kind"])
        through_outage(
            self.home,
            lambda s: queue.finish_job(
                s,
                self.id,
                status,
                result=result,
                error=error,
                session_id=session_id or self.session_id,
            ),
        )

    def _register(self, store: Store, out: Path) -> None:
        """The job's output files, all or (after an outage, tried again) none twice."""
        filestore.drop_job_files(store, self.id)
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            filestore.add_file(
                store,
                self.home,
                self.job["tenant_id"],
                path.relative_to(out).as_posix(),
                path.read_bytes(),
                role="output",
                job_id=self.id,
            )

    def _requeue(self, exc: PlatformError) -> bool:
        """The cluster refused this job's sandbox, or the engine could not start it: tell the
        replica (its workers hold off for the cooldown), and put the job back in the queue if
        nothing was recorded for it yet (see :mod:`promptkiln.server.capacity`)."""
        if self.capacity is not None:
            self.capacity.note_full(exc.message)
        if self.runs_linked or self.cancelled.is_set():
            return False
        store = store_for(self.home)
        code = "capacity" if isinstance(exc, BackendAtCapacity) else "engine_unreachable"
        reason = {"code": code, "message": exc.message}
        if not queue.requeue_job(store, self.id, reason, self.settings.e2b.capacity_requeues):
            return False
        if self.session_id is not None and not loads(self.job["request"]).get("session_id"):
            from promptkiln.server.sessions import unlink_session

            unlink_session(store, self.session_id)  # the new session holds only a failed turn
        return True

    def _write_inputs(self, file_ids: Sequence[str], where: Path) -> list[Path]:
        store = store_for(self.home)
        rows = filestore.get_files(store, self.job["tenant_id"], file_ids)
        where.mkdir(parents=True)
        paths = []
        for row in rows:
            path = where / row["name"]
            path.write_bytes(filestore.file_bytes(self.home, row))
            paths.append(path)
        return paths

    def _turn(
        self, request: dict[str, Any], inputs: list[Path], out: Path
    ) -> tuple[dict[str, Any], str]:
        from promptkiln.making.sessions import run_turn
        from promptkiln.server.sessions import link_session, new_session_id

        session = request.get("session_id")
        sid = session or new_session_id()
        if session is None:
            link_session(store_for(self.home), sid, self.job["tenant_id"])
        self.session_id = sid  # the job names its session even when the turn fails
        turn = run_turn(
            request["prompt"],
            session=session,
            formats=request.get("formats") or [],
            inputs=inputs,
            out=out,
            settings=self.settings,
            factory=self.factory,
            progress=self.progress,
            on_token=self.on_token,
            new_id=sid,
            record_extra=self.record_extra,
            on_record=self.on_attempt,
        )
        r = turn.result
        return {
            "session_id": f"ses_{turn.session_id}",
            "turn": turn.turn,
            "model": r.model,
            "timings": {k: round(v, 3) for k, v in r.timings.items()},
            "script": r.script,
            "status": r.status,
            "checks": [o.to_dict() for o in r.unmet],
        }, sid

    def _run_script(
        self, request: dict[str, Any], inputs: list[Path], out: Path
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        from promptkiln.making.pipeline import read_inputs

        script: str = request["script"]
        files = read_inputs(inputs)
        self.progress("queued job started")
        run = run_in_sandbox(
            script.encode(),
            files,
            out,
            self.settings,
            factory=self.factory,
            progress=self.progress,
            allow_extensions=request.get("allow_ext") or (),
        )
        self.check()
        through_outage(  # one transaction: after an outage it is either there or not
            self.home,
            lambda _: record_sandbox_run(
                self.settings, "run", run, script=script, inputs=files, extra=self.record_extra
            ),
        )
        self._link_run(run.run_id)
        self.metrics.observe("promptkiln_sandbox_start_seconds", run.timings.get("start_s", 0))
        self.metrics.observe("promptkiln_sandbox_run_seconds", run.timings.get("run_s", 0))
        r = run.result
        result = {
            "run_id": f"run_{run.run_id}",
            "exit_code": r.exit_code,
            "termination": r.termination.value,
            "stdout": r.stdout.text,
            "stderr": r.stderr.text,
            "timings": {k: round(v, 3) for k, v in run.timings.items()},
            "rejected": [{"name": x.name, "reason": x.reason} for x in run.rejections],
        }
        self.event(
            "attempt",
            {
                "number": 1,
                "run_id": f"run_{run.run_id}",
                "problem": run.problem(self.settings.limits.timeout),
                "ok": r.exit_code == 0,
            },
        )
        try:
            raise_for_run(run, self.settings)
        except PromptkilnError as exc:
            error = job_error(exc)
            if (why := explain_run(run, script)) is not None:
                error.update(why.to_json())
            return "failed", result, error
        return "succeeded", result, None
