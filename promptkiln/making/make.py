"""prompt -> script -> files: generate, extract, run, validate, check the requirements, repair.

The loop in :func:`make`. Each attempt runs in a fresh sandbox and collects into private
staging; only the accepted attempt's files reach ``out``. What makes a retry worth its time:

* generation stops at the closing fence and cuts off looping answers (:mod:`llm.stream_guard`),
  with a token budget sized to the request (:func:`promptkiln.making.repair.token_budget`);
* the next request carries the last script and exactly what failed in it — the line, the
  exception, the nearest real API names resolved in the sandbox (:mod:`promptkiln.making.hints`) —
  not the whole history (:mod:`promptkiln.making.repair`);
* a script identical to one that already failed is not run again: it is regenerated warmer;
* sampling warms up on later attempts, more when the same line fails the same way twice;
* a context-window overflow drops the repair history and retries with the first request;
* the prompt's stated requirements are checked on the files (:mod:`promptkiln.checks.requirements`).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln import leftovers
from promptkiln.config import Settings, load_settings
from promptkiln.errors import AttemptsExhausted, UsageError
from promptkiln.making.attempt import Attempt, MakeResult
from promptkiln.making.pipeline import (
    Progress,
    SandboxFactory,
    _quiet,
    deliver_dir,
    make_generator,
    prewarm,
    read_inputs,
)
from promptkiln.sandbox.base import Artifact, InputFile

if TYPE_CHECKING:
    from promptkiln.llm.generate import CodeGenerator


def make(
    prompt: str,
    *,
    formats: Sequence[str] = (),
    inputs: Sequence[Path] = (),
    out: Path = Path("out"),
    settings: Settings | None = None,
    generator: CodeGenerator | None = None,
    factory: SandboxFactory | None = None,
    overwrite: bool = False,
    progress: Progress = _quiet,
    on_token: Callable[[str], None] | None = None,
    existing: Sequence[InputFile] = (),
    on_attempt: Callable[[Attempt], None] | None = None,
    session_id: str | None = None,
    keep_unmet: bool = False,
) -> MakeResult:
    """Turn a prompt into files in ``out``: generate, extract, run, validate, repair.

    With ``settings.engine`` other than ``local`` the request is routed
    (:mod:`promptkiln.engines`) and may run on a vendor engine; ``session_id`` lets that engine
    reuse the session's vendor container.

    ``existing`` are extra input files (a session's current workspace) placed in ``inputs/``
    like the user's inputs. ``on_attempt`` is called after every attempt, successful or not,
    so callers can record runs as they happen.

    Files of failed attempts never reach ``out``: each attempt collects into a private staging
    directory, and only the accepted attempt's files are delivered (atomically, never
    overwriting unless ``overwrite``). When every attempt fails, the best attempt whose files
    were valid is kept if it only missed requirement or content checks, or — with
    ``settings.keep_valid_on_crash`` — if its script crashed after writing them.

    A result whose files fail a check has ``status == "unmet"``; its files are delivered to
    ``out`` only with ``settings.accept_unmet`` or ``keep_unmet`` (a session keeps them),
    else ``files`` is empty and the caller says which checks failed.
    """
    settings = settings or load_settings()
    if not prompt.strip():
        raise UsageError("the prompt is empty", hint='say what to make, e.g. "a bar chart of ..."')
    formats = [f.lower().lstrip(".") for f in formats]
    input_files = [*existing, *read_inputs(list(inputs))]
    if settings.engine != "local":  # vendor engines: same collect/validate/deliver/records
        from promptkiln.engines.run import route_for
        from promptkiln.making.vendor import make_with_engine

        chosen = route_for(settings, formats, input_files)
        if chosen.engine != "local":
            return make_with_engine(
                prompt,
                formats=formats,
                input_files=input_files,
                out=out,
                settings=settings,
                chosen=chosen,
                overwrite=overwrite,
                progress=progress,
                on_attempt=on_attempt,
                session_id=session_id,
            )
        progress(f"engine local: {chosen.reason}")
    if generator is None and settings.model:
        progress("loading the model client (litellm)")
    gen, model_name = make_generator(generator, settings, progress)
    from promptkiln.sandbox.e2b_libraries import template_libraries

    # None (the usual list) unless the sandbox is an E2B template other than promptkiln's own.
    libraries = template_libraries(settings, progress)
    if libraries is not None:
        from promptkiln.llm.libraries import fallback_note, missing_for

        for fmt in formats:
            lacking = missing_for(fmt, libraries)
            if lacking and fallback_note(fmt, libraries) is None:
                progress(
                    f"warning: the E2B template {settings.e2b.template} has no {lacking}, which "
                    f".{fmt} files are made with; promptkiln's own template has it"
                )
    from promptkiln.checks import requirements as reqs_mod

    wanted = reqs_mod.parse(prompt, formats, {f.name: f.data for f in input_files})
    from promptkiln.checks.requirements_text import placeholder_check

    wanted += placeholder_check(prompt, formats)
    if settings.model_requirements:
        from promptkiln.making.requirements_model import ask

        wanted += ask(gen, prompt, formats, wanted, progress)
    if wanted:
        progress("requirements: " + "; ".join(r.text for r in wanted))
    # With no factory given and the pool on, a sandbox starts and warms now, while the model
    # generates; each attempt takes one (promptkiln.sandbox.pool).
    pool = prewarm(settings) if factory is None else None
    factory = pool.factory if pool is not None else factory
    from promptkiln.making.attempt_loop import RepairLoop
    from promptkiln.making.plan_step import prepare, unmet_plan

    loop = RepairLoop(
        settings, gen, factory, progress, on_token, input_files, formats, wanted, prompt
    )
    leftovers.sweep()  # temp dirs of commands that were kill -9'd
    loop.staging_root = leftovers.owned_tempdir("attempt")
    try:
        # the inputs' profile (in a sandbox), the plan and its checks: the script request
        prepared = prepare(
            prompt,
            formats,
            input_files,
            settings,
            gen,
            factory=factory,
            progress=progress,
            existing_files=[f.name for f in existing],
            libraries=libraries,
            run_id=f"{loop.run_id}-profile",
        )
        loop.plan, loop.profile = prepared.plan, prepared.profile
        for key, value in prepared.timings.items():
            loop.timings[key] = value
        winner = loop.run(prepared.messages, on_attempt)
        if winner is None:
            last = loop.attempts[-1].problem if loop.attempts else "no attempt was made"
            rounds = len({a.number for a in loop.attempts})
            raise AttemptsExhausted(rounds, (last or "").splitlines()[0], budget=loop.out_of_time)
        attempt = winner.attempt
        attempt.requirements.extend(unmet_plan(prepared))
        status = "unmet" if any(not o.met for o in attempt.requirements) else "ok"
        files: list[Artifact] = []
        if status == "ok" or settings.accept_unmet or keep_unmet:
            files = deliver_dir(winner.staging, out, settings, overwrite, formats)
        else:
            progress("not delivering the files: they fail a check (--accept-unmet delivers them)")
        assert attempt.run is not None and attempt.script is not None
        return MakeResult(
            files,
            attempt.script,
            loop.attempts,
            loop.timings,
            model_name,
            loop.run_id,
            attempt.run.rejections,
            attempt.requirements,
            loop.warnings(winner),
            plan=prepared.plan,
            profile=prepared.profile,
            status=status,
        )
    finally:
        if pool is not None:
            # interrupted (Ctrl-C) or failed: wait until the pool's sandboxes are removed, as
            # the "interrupted" message promises; after a success their removal runs behind
            pool.close(wait=sys.exc_info()[0] is not None, timeout_s=60)
        shutil.rmtree(loop.staging_root, ignore_errors=True)
