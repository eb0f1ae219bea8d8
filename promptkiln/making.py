"""prompt -> script -> files: generate, extract, run, validate, check the requirements, repair.

The loop in :func:`make`. Each attempt runs in a fresh sandbox and collects into private
staging; only the accepted attempt's files reach ``out``. What makes a retry worth its time:

* generation stops at the closing fence and cuts off looping answers (:mod:`llm.stream_guard`),
  with a token budget sized to the request (:func:`promptkiln.repair.token_budget`);
* the next request carries the last script and exactly what failed in it — the line, the
  exception, the nearest real API names resolved in the sandbox (:mod:`promptkiln.hints`) —
  not the whole history (:mod:`promptkiln.repair`);
* a script identical to one that already failed is not run again: it is regenerated warmer;
* sampling warms up on later attempts, more when the same line fails the same way twice;
* a context-window overflow drops the repair history and retries with the first request;
* the prompt's stated requirements are checked on the files (:mod:`promptkiln.requirements`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln import leftovers
from promptkiln.config import MAX_TOKENS_CEILING, Settings, load_settings
from promptkiln.errors import AttemptsExhausted, ContextOverflow, ExtractionError, UsageError
from promptkiln.failure import Failure, parse_failure, script_hash
from promptkiln.pipeline import (
    Progress,
    SandboxFactory,
    SandboxRun,
    _quiet,
    deliver_dir,
    make_generator,
    new_run_id,
    prewarm,
    read_inputs,
    run_in_sandbox,
)
from promptkiln.requirements import Outcome, Requirement
from promptkiln.sandbox.base import Artifact, InputFile, Rejection

if TYPE_CHECKING:
    from promptkiln.llm.generate import CodeGenerator, Generation, Message, Sampling


@dataclass
class Attempt:
    """One round of the repair loop, kept in the transcript."""

    number: int
    response: str
    script: str | None
    problem: str | None
    run: SandboxRun | None
    generation_s: float
    temperature: float | None = None
    script_sha256: str | None = None
    failure: Failure | None = None  #: where the script failed (line, exception), if it did
    same_failure_as_previous: bool = False  #: same line, same exception as the attempt before
    repeated_script: bool = False  #: the model first answered with a script that already failed
    stopped: str | None = None  #: "fence" / "repetition": why reading the answer stopped early
    requirements: list[Outcome] = field(default_factory=list)
    hint: str | None = None
    seconds: float = 0.0  #: the whole attempt: generation, run, validation

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "problem": self.problem,
            "seconds": round(self.seconds, 2),
            "generation_s": round(self.generation_s, 2),
            "temperature": self.temperature,
            "script_sha256": self.script_sha256,
            "failure": None
            if self.failure is None
            else {
                "line": self.failure.line,
                "exception": self.failure.exc_type,
                "message": self.failure.message,
            },
            "same_failure_as_previous": self.same_failure_as_previous,
            "repeated_script": self.repeated_script,
            "stopped": self.stopped,
            "hint": self.hint,
            "requirements": [o.to_dict() for o in self.requirements],
        }


@dataclass
class MakeResult:
    """What :func:`make` returns: the saved files, the final script, the transcript, timings."""

    files: list[Artifact]
    script: str
    attempts: list[Attempt]
    timings: dict[str, float]
    model: str
    run_id: str
    rejections: list[Rejection] = field(default_factory=list)
    #: The prompt's stated requirements and whether the delivered files meet them.
    requirements: list[Outcome] = field(default_factory=list)
    #: Said to the user along with the files (unmet requirements, a crash after the files).
    warnings: list[str] = field(default_factory=list)

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)


@dataclass
class _Candidate:
    """A finished attempt whose files opened fine, kept in case nothing better comes."""

    attempt: Attempt
    staging: Path
    unmet: int
    crashed: bool


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
    were valid is delivered with warnings if it only missed stated requirements, or — with
    ``settings.keep_valid_on_crash`` — if its script crashed after writing them.
    """
    from promptkiln.llm.prompts import InputSummary, render_messages

    settings = settings or load_settings()
    if not prompt.strip():
        raise UsageError("the prompt is empty", hint='say what to make, e.g. "a bar chart of ..."')
    formats = [f.lower().lstrip(".") for f in formats]
    input_files = [*existing, *read_inputs(list(inputs))]
    if settings.engine != "local":  # vendor engines: same collect/validate/deliver/records
        from promptkiln.engines.run import make_with_engine, route_for

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
    summaries = [InputSummary.from_bytes(f.name, f.data) for f in input_files]
    base = list(
        render_messages(
            prompt,
            formats,
            summaries,
            templates_dir=settings.templates_dir,
            existing_files=[f.name for f in existing],
        )
    )
    from promptkiln import requirements as reqs_mod

    wanted = reqs_mod.parse(prompt, formats, {f.name: f.data for f in input_files})
    if wanted:
        progress("requirements: " + "; ".join(r.text for r in wanted))
    # With no factory given and the pool on, a sandbox starts and warms now, while the model
    # generates; each attempt takes one (promptkiln.sandbox.pool).
    pool = prewarm(settings) if factory is None else None
    factory = pool.factory if pool is not None else factory
    loop = _Loop(settings, gen, factory, progress, on_token, input_files, formats, wanted, prompt)
    leftovers.sweep()  # temp dirs of commands that were kill -9'd
    loop.staging_root = leftovers.owned_tempdir("attempt")
    try:
        winner = loop.run(base, on_attempt)
        if winner is None:
            last = loop.attempts[-1].problem if loop.attempts else "no attempt was made"
            raise AttemptsExhausted(len(loop.attempts), (last or "").splitlines()[0])
        files = deliver_dir(winner.staging, out, settings, overwrite, formats)
        attempt = winner.attempt
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
        )
    finally:
        if pool is not None:
            pool.close()
        shutil.rmtree(loop.staging_root, ignore_errors=True)


class _Loop:
    """The state of one make(): attempts so far, the fallback candidates, timings."""

    def __init__(
        self,
        settings: Settings,
        gen: CodeGenerator,
        factory: SandboxFactory | None,
        progress: Progress,
        on_token: Callable[[str], None] | None,
        inputs: list[InputFile],
        formats: list[str],
        wanted: list[Requirement],
        prompt: str,
    ) -> None:
        from promptkiln.repair import token_budget

        self.settings, self.gen, self.factory, self.progress = settings, gen, factory, progress
        self.on_token, self.inputs, self.formats, self.wanted = on_token, inputs, formats, wanted
        self.attempts: list[Attempt] = []
        self.timings: dict[str, float] = {}
        self.run_id = new_run_id()
        self.staging_root = Path()
        self.fallbacks: list[_Candidate] = []
        self.ceiling = settings.max_tokens or MAX_TOKENS_CEILING
        self.max_tokens = settings.max_tokens or token_budget(
            formats, len(inputs), prompt, MAX_TOKENS_CEILING
        )

    def _add(self, key: str, value: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + value

    # -- generation ---------------------------------------------------------------------------

    def _generate(self, messages: list[Message], sampling: Sampling) -> Generation:
        """One answer; a context overflow drops the repair turns and tries the first request."""
        gen = self.gen
        with_sampling = getattr(gen, "with_sampling", None)
        if callable(with_sampling):
            from dataclasses import replace

            gen = with_sampling(replace(sampling, max_tokens=self.max_tokens))
        t0 = time.monotonic()
        try:
            try:
                return gen.generate(messages, on_token=self.on_token)
            except ContextOverflow:
                if len(messages) <= 2:
                    raise
                self.progress("the request did not fit the model's context: retrying shorter")
                return gen.generate(messages[:2], on_token=self.on_token)
        finally:
            self._add("generate_s", time.monotonic() - t0)

    # -- the loop -----------------------------------------------------------------------------

    def run(
        self, base: list[Message], on_attempt: Callable[[Attempt], None] | None
    ) -> _Candidate | None:
        from promptkiln.repair import (
            Feedback,
            as_answer,
            cut_off_problem,
            fresh_request,
            loop_problem,
            repair_request,
            sampling_for,
        )

        messages = list(base)
        failed_scripts: dict[str, Attempt] = {}
        total = self.settings.attempts
        for number in range(1, total + 1):
            started = time.monotonic()
            prev = self.attempts[-1] if self.attempts else None
            stuck = bool(prev and prev.same_failure_as_previous)
            sampling = sampling_for(number, self.settings.temperature, stuck=stuck, seed=number)
            self.progress(
                f"attempt {number}/{total}: generating the script "
                f"(temperature {sampling.temperature:g})"
            )
            generation = self._generate(messages, sampling)
            attempt = Attempt(number, generation.text, None, None, None, generation.duration_s)
            attempt.temperature = sampling.temperature
            attempt.stopped = generation.stopped
            self.attempts.append(attempt)
            self.progress(f"generated in {generation.duration_s:.1f} s")
            feedback: Feedback | None = None
            script = self._extract(generation, attempt)
            if script is not None and script_hash(script) in failed_scripts:
                # the very script that already failed: do not run it again, ask once more, warmer
                attempt.repeated_script = True
                earlier = failed_scripts[script_hash(script)]
                self.progress("the model repeated a script that already failed; asking again")
                warmer = sampling_for(
                    number + 1, self.settings.temperature, stuck=True, seed=number + 100
                )
                # A fresh request, without the repeated answer in it: small models copy an
                # answer they can see almost verbatim, at any temperature.
                retry = fresh_request(base, earlier.problem or "", earlier.failure)
                generation = self._generate(retry, warmer)
                attempt.response, attempt.temperature = generation.text, warmer.temperature
                attempt.generation_s += generation.duration_s
                script = self._extract(generation, attempt)
                if script is not None and script_hash(script) in failed_scripts:
                    attempt.script, attempt.script_sha256 = script, script_hash(script)
                    attempt.failure, attempt.same_failure_as_previous = earlier.failure, True
                    attempt.problem = (
                        f"the model sent the same script again, which already failed: "
                        f"{earlier.problem}"
                    )
                    script = None
            if script is None:
                problem = attempt.problem or "no usable script"
                if generation.stopped == "repetition":
                    problem = attempt.problem = loop_problem(generation.loop_line)
                elif generation.finish_reason == "length":
                    problem = attempt.problem = cut_off_problem(self.max_tokens)
                    self.max_tokens = min(self.ceiling, self.max_tokens * 2)
                feedback = Feedback(
                    problem,
                    failure=attempt.failure,
                    repeated_failure=attempt.same_failure_as_previous,
                )
            else:
                attempt.script = script
                attempt.script_sha256 = script_hash(script)
                winner, feedback = self._run(attempt, script, prev)
                if winner is not None:
                    attempt.seconds = time.monotonic() - started
                    if on_attempt:
                        on_attempt(attempt)
                    self.progress(f"attempt {number} succeeded")
                    return winner
                failed_scripts[attempt.script_sha256] = attempt
            attempt.seconds = time.monotonic() - started
            if on_attempt:
                on_attempt(attempt)
            first = (attempt.problem or "").splitlines()[0] if attempt.problem else "?"
            self.progress(f"attempt {number} failed after {attempt.seconds:.1f} s: {first}")
            messages = repair_request(base, as_answer(attempt.script, attempt.response), feedback)
        return self._fallback()

    def _extract(self, generation: Generation, attempt: Attempt) -> str | None:
        from promptkiln.llm.extract import extract

        try:
            if generation.truncated:
                raise ExtractionError(
                    "response_too_large",
                    "the answer was longer than the 1 MB that is read, and was cut off",
                )
            if generation.stopped == "repetition":
                attempt.problem = "the answer was looping"
                return None
            return extract(generation.text).code
        except ExtractionError as exc:
            attempt.problem = f"no usable script in the answer: {exc.message}"
            return None

    def _run(
        self, attempt: Attempt, script: str, prev: Attempt | None
    ) -> tuple[_Candidate | None, Any]:
        from promptkiln import requirements as reqs_mod
        from promptkiln.repair import Feedback
        from promptkiln.validate import validate_all

        staging = self.staging_root / f"attempt-{attempt.number}"
        run = run_in_sandbox(
            script.encode(),
            self.inputs,
            staging,
            self.settings,
            factory=self.factory,
            progress=self.progress,
            run_id=f"{self.run_id}-{attempt.number}",
            allow_extensions=self.formats,
        )
        attempt.run = run
        for key, value in run.timings.items():
            self._add(key, value)
        crashed = run.problem(self.settings.limits.timeout)
        stderr = run.result.stderr.text if crashed else ""
        if crashed and run.result.exit_code not in (None, 0):
            attempt.failure = parse_failure(stderr, script)
            if prev and prev.failure and attempt.failure:
                attempt.same_failure_as_previous = (
                    prev.failure.signature == attempt.failure.signature
                )
        problems: list[str] = []
        if run.artifacts and (not crashed or run.result.exit_code not in (None, 0)):
            t1 = time.monotonic()
            self.progress("validating the files")
            problems = validate_all(run.artifacts, self.formats)
            self._add("validate_s", time.monotonic() - t1)
        elif not crashed:
            problems = ["the script wrote no files in the working directory"]
        files_valid = bool(run.artifacts) and not problems
        unmet: list[str] = []
        if files_valid and self.wanted:
            attempt.requirements = reqs_mod.check(self.wanted, _facts(run.artifacts))
            unmet = reqs_mod.feedback(attempt.requirements)
        if files_valid:
            candidate = _Candidate(attempt, staging, len(unmet), bool(crashed))
            if not crashed and not unmet:
                return candidate, None
            self.fallbacks.append(candidate)
        if crashed:
            attempt.problem = crashed
        else:
            attempt.problem = "; ".join(problems or unmet)
        hint = None
        if attempt.failure is not None:
            hint = self._hint(attempt.failure, script)
            attempt.hint = hint
        return None, Feedback(
            attempt.problem,
            stderr=stderr,
            failure=attempt.failure,
            hint=hint,
            repeated_failure=attempt.same_failure_as_previous,
            files_were_valid=files_valid and bool(crashed) and not unmet,
        )

    def _hint(self, failure: Failure, script: str) -> str | None:
        from promptkiln.hints import hint_for

        def run_probe(code: str) -> str:
            self.progress("looking up the library's real names in the sandbox")
            with tempfile.TemporaryDirectory() as tmp:
                probe = run_in_sandbox(
                    code.encode(), [], Path(tmp) / "probe", self.settings, factory=self.factory
                )
            return probe.result.stdout.text

        t0 = time.monotonic()
        try:
            return hint_for(failure, script, run_probe)
        finally:
            self._add("hint_s", time.monotonic() - t0)

    def _fallback(self) -> _Candidate | None:
        """When no attempt fully succeeded: the best one whose files opened, if allowed."""
        usable = [c for c in self.fallbacks if not c.crashed or self.settings.keep_valid_on_crash]
        if not usable:
            return None
        best = min(usable, key=lambda c: (c.crashed, c.unmet, -c.attempt.number))
        self.progress(f"delivering the files of attempt {best.attempt.number}, with warnings")
        return best

    def warnings(self, winner: _Candidate) -> list[str]:
        out = []
        if winner.crashed:
            out.append(
                f"the script of attempt {winner.attempt.number} crashed after writing these "
                "files (they opened fine; delivered because of --keep-valid-on-crash)"
            )
        out += [
            f"requirement not met: {o.requirement.text} ({o.detail})"
            for o in winner.attempt.requirements
            if not o.met
        ]
        return out


def _facts(artifacts: Sequence[Artifact]) -> dict[str, dict[str, Any]]:
    from promptkiln.facts import file_facts
    from promptkiln.validate import normalize

    out: dict[str, dict[str, Any]] = {}
    for art in artifacts:
        kind = normalize(Path(art.name).suffix)
        facts = file_facts(Path(art.path), kind)
        if facts:
            out[art.name] = facts
    return out
