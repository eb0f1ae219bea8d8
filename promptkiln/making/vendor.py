"""Prompt -> files through a vendor engine, under the same rules as the local pipeline.

:func:`make_with_engine` is the one entry point (:func:`promptkiln.making.make.make` dispatches
to it when the route names a vendor): per attempt ask the vendor, collect its raw files with
:func:`promptkiln.sandbox.collect.collect` into a private staging directory (sanitised names,
types from content, caps), validate them, send a follow-up naming the problem when the engine
allows one, and deliver only the accepted attempt's files atomically. Every attempt becomes a
run record (engine, vendor model, container and file ids, token usage).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln import leftovers
from promptkiln.checks.validate import validate_all
from promptkiln.engines.base import EngineOutput, EngineState
from promptkiln.engines.routing import Route
from promptkiln.engines.run import open_engine, route_for, session_state
from promptkiln.errors import AttemptsExhausted, SandboxTimeout
from promptkiln.making.attempt import Attempt, MakeResult
from promptkiln.making.pipeline import (
    Progress,
    SandboxRun,
    _quiet,
    deliver_dir,
    deliverable,
    new_run_id,
)
from promptkiln.sandbox.base import CapturedStream, InputFile, RunResult, SandboxInfo, Termination
from promptkiln.sandbox.collect import collect

if TYPE_CHECKING:
    from promptkiln.config import Settings


def make_with_engine(
    prompt: str,
    *,
    formats: Sequence[str],
    input_files: Sequence[InputFile],
    out: Path,
    settings: Settings,
    chosen: Route | None = None,
    overwrite: bool = False,
    progress: Progress = _quiet,
    on_attempt: Callable[[Attempt], None] | None = None,
    session_id: str | None = None,
) -> MakeResult:
    """Turn a prompt into files in ``out`` with a vendor engine (``chosen``, else routed)."""
    chosen = chosen or route_for(settings, formats, input_files)
    name = chosen.engine
    progress(f"engine {name}: {chosen.reason}")
    engine = open_engine(name, settings)
    state = session_state(settings, session_id, name)
    if state.container_id:
        progress(f"reusing the session's {name} container {state.container_id}")
    attempts: list[Attempt] = []
    timings: dict[str, float] = {}
    run_id = new_run_id()
    model = f"{name}:{settings.engines.model(name)}"
    problem: str | None = None
    leftovers.sweep()
    staging_root = leftovers.owned_tempdir("engine")
    try:
        for number in range(1, settings.attempts + 1):
            if number > 1 and not engine.follow_up:
                break
            progress(f"attempt {number}/{settings.attempts}: asking {model}")
            t0 = time.monotonic()
            output = engine.run(prompt, input_files, formats, state, repair=_repair(problem))
            took = time.monotonic() - t0
            timings["vendor_s"] = timings.get("vendor_s", 0.0) + took
            for note in output.notes:
                progress(note)
            staging = staging_root / f"attempt-{number}"
            run, problem = _check(
                output, staging, settings, formats, chosen, took, state, f"{run_id}-{number}"
            )
            attempt = Attempt(
                number, output.text, output.code or None, problem, run, took, seconds=took
            )
            attempts.append(attempt)
            if on_attempt:
                on_attempt(attempt)
            if problem is None:
                files = deliver_dir(staging, out, settings, overwrite, formats)
                progress(f"attempt {number} succeeded")
                return MakeResult(
                    files, output.code, attempts, timings, model, run_id, run.rejections
                )
            progress(f"attempt {number} failed: {problem.splitlines()[0]}")
        if attempts and all(
            a.run is not None and a.run.result.termination is Termination.TIMEOUT for a in attempts
        ):
            if name == "gemini":  # the vendor's own limit: --timeout cannot change it
                limit = settings.engines.gemini_time_limit
                raise SandboxTimeout(
                    limit,
                    message=f"the code ran longer than Gemini's fixed {limit:g} s limit",
                    hint="ask for less work per file, or use another --engine "
                    "(Gemini's code-execution limit is set by Google and cannot be raised)",
                )
            raise SandboxTimeout(settings.limits.timeout)
        raise AttemptsExhausted(len(attempts), (problem or "").splitlines()[0])
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        engine.close()


def _repair(problem: str | None) -> str | None:
    if problem is None:
        return None
    return (
        f"That did not work: {problem}. Fix it and produce the files again, "
        "saved in the working directory."
    )


def _check(
    output: EngineOutput,
    staging: Path,
    settings: Settings,
    formats: Sequence[str],
    chosen: Route,
    took: float,
    state: EngineState,
    run_id: str,
) -> tuple[SandboxRun, str | None]:
    """Collect one answer's files into ``staging``, validate them, and say what is wrong."""
    limits = settings.limits.to_limits()
    cap = limits.log_bytes
    result = RunResult(
        output.exit_code if not output.timed_out else None,
        CapturedStream(output.stdout.encode()[:cap], max(0, len(output.stdout.encode()) - cap)),
        CapturedStream(output.stderr.encode()[:cap], max(0, len(output.stderr.encode()) - cap)),
        took,
        Termination.TIMEOUT if output.timed_out else Termination.EXITED,
    )
    collected = collect(
        output.files, staging, limits, overwrite=True, extensions=deliverable(formats)
    )
    artifacts, rejections = list(collected.artifacts), list(collected.rejections)
    info = SandboxInfo(
        backend=chosen.engine,
        image=output.model,
        runtime="vendor",
        network="vendor",
        extra={
            "engine": chosen.engine,
            "route": chosen.reason,
            "vendor_model": output.model,
            "container_id": output.container_id or "",
            "file_ids": json.dumps(output.file_ids),
            "usage": json.dumps(output.usage),
            "container_known": json.dumps(sorted(state.known)),
            "notes": json.dumps(output.notes),
        },
    )
    run = SandboxRun(run_id, result, artifacts, rejections, info, {"vendor_s": took})
    problem: str | None = None
    if output.timed_out:
        problem = "the code ran longer than the vendor's time limit; make it faster"
    elif output.exit_code != 0 and not artifacts:
        problem = f"the code failed: {output.stderr.strip()[-500:] or 'no error text'}"
    else:
        problems = validate_all(artifacts, formats)
        if not artifacts:
            why = "; ".join(f"{r.name}: {r.reason}" for r in rejections[:3])
            problems.append(
                "no deliverable file came back" + (f" (rejected: {why})" if why else "")
            )
        problem = "; ".join(problems) or None
    return run, problem
