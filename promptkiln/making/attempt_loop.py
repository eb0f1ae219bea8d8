"""The repair loop of one make(): attempts, their sandbox runs, feedback, the fallback.

:func:`promptkiln.making.make` sets it up and delivers what :meth:`RepairLoop.run` returns.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.checks.requirements import Requirement
from promptkiln.config import MAX_TOKENS_CEILING, Settings
from promptkiln.errors import ContextOverflow
from promptkiln.making.attempt import Attempt
from promptkiln.making.attempt_cost import Spent, expected_seconds, run_settings
from promptkiln.making.attempt_judge import (
    CANDIDATE_TEMPERATURE,
    delivery_warnings,
    files_facts,
    raster_size,
    score,
    tag,
)
from promptkiln.making.attempt_script import fixed_before_running, script_of
from promptkiln.making.failure import parse_failure, script_hash
from promptkiln.making.pipeline import Progress, SandboxFactory, new_run_id, run_in_sandbox
from promptkiln.sandbox.base import InputFile, Termination

if TYPE_CHECKING:
    from promptkiln.llm.generate import CodeGenerator, Generation, Message, Sampling
    from promptkiln.making.failure import Failure
    from promptkiln.making.repair import Feedback
    from promptkiln.plan import Plan, Profile


@dataclass
class Candidate:
    """A finished attempt whose files opened fine, kept in case nothing better comes."""

    attempt: Attempt
    staging: Path
    unmet: int
    crashed: bool


class RepairLoop:
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
        from promptkiln.making.repair import token_budget

        self.settings, self.gen, self.factory, self.progress = settings, gen, factory, progress
        self.on_token, self.inputs, self.formats, self.wanted = on_token, inputs, formats, wanted
        self.attempts: list[Attempt] = []
        self.timings: dict[str, float] = {}
        self.run_id = new_run_id()
        self.staging_root = Path()
        self.fallbacks: list[Candidate] = []
        self.failed_scripts: dict[str, Attempt] = {}  #: sha256 of a script that failed
        self.started = time.monotonic()
        #: The time budget, when it stopped the repairs before the last attempt.
        self.out_of_time: float | None = None
        self.base: list[Message] = []
        #: The last attempt's request and figures, to price the next one (the time budget).
        self.spent: Spent | None = None
        self.answer_cached = False  #: the next request shows the last answer as it was written
        self.size = raster_size(wanted, formats)
        from promptkiln.making.content_judge import ContentJudge

        self.content = ContentJudge(settings, inputs, prompt, factory=factory, progress=progress)
        self.ceiling = settings.max_tokens or MAX_TOKENS_CEILING
        self.max_tokens = settings.max_tokens or token_budget(
            formats, len(inputs), prompt, MAX_TOKENS_CEILING
        )
        #: The checked plan (input column names normalised to the profile's) and the inputs'
        #: profile, set by make() before run(): for the judge's content checks. None: no plan
        #: (``--no-plan``, a model without structured output, a plan that stayed invalid) /
        #: no inputs.
        self.plan: Plan | None = None
        self.profile: Profile | None = None

    def _add(self, key: str, value: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + value

    # -- generation ---------------------------------------------------------------------------

    def _generate(self, messages: list[Message], sampling: Sampling) -> Generation:
        """One answer; a context overflow drops the repair turns and tries the first request."""
        gen = self.gen
        with_sampling = getattr(gen, "with_sampling", None)
        if callable(with_sampling):
            from dataclasses import replace

            budget = self.settings.time_budget
            deadline = self.started + budget if budget else None
            gen = with_sampling(replace(sampling, max_tokens=self.max_tokens, deadline=deadline))
        t0 = time.monotonic()
        try:
            try:
                return gen.generate(messages, on_token=self.on_token)
            except ContextOverflow:
                if len(messages) <= len(self.base):
                    raise
                self.progress("the request did not fit the model's context: retrying shorter")
                return gen.generate(self.base, on_token=self.on_token)
        finally:
            self._add("generate_s", time.monotonic() - t0)

    # -- the loop -----------------------------------------------------------------------------

    def run(
        self, base: list[Message], on_attempt: Callable[[Attempt], None] | None
    ) -> Candidate | None:
        """Attempts until one succeeds; the first may be several sampled candidates."""
        from promptkiln.making.repair import as_answer, repair_request

        messages = list(base)
        self.base = base  # (self.started is when make() began: the plan's time counts too)
        total = self.settings.attempts
        for number in range(1, total + 1):
            if number > 1 and self._past_budget(number, messages):
                break
            width = self.settings.candidates if number == 1 else 1
            best: tuple[int, Attempt, Feedback | None] | None = None
            for k in range(1, width + 1):
                winner, attempt, feedback = self._attempt(
                    number, total, messages, candidate=k if width > 1 else 0
                )
                if winner is not None:
                    attempt.chosen = width > 1
                    if on_attempt:
                        on_attempt(attempt)
                    self.progress(f"attempt {number}{tag(attempt)} succeeded")
                    return winner
                if on_attempt:
                    on_attempt(attempt)
                first = (attempt.problem or "?").splitlines()[0]
                self.progress(
                    f"attempt {number}{tag(attempt)} failed after {attempt.seconds:.1f} s: {first}"
                )
                if best is None or score(attempt) > best[0]:
                    best = (score(attempt), attempt, feedback)
            assert best is not None
            _, attempt, feedback = best
            if width > 1:
                attempt.chosen = True
                self.progress(f"repairing candidate {attempt.candidate}: it got furthest")
            assert feedback is not None
            answer = as_answer(attempt.script, attempt.response, patched=bool(attempt.fixes))
            self.answer_cached = answer == attempt.response
            messages = repair_request(messages, answer, feedback, base=len(base))
        return self._fallback()

    def _past_budget(self, number: int, messages: list[Message]) -> bool:
        """Whether attempt ``number``, sending ``messages``, would likely end past the time
        budget; says so in the progress when it would. The estimate is what the attempt will
        cost (:mod:`promptkiln.making.attempt_cost`): a repair the server's cache mostly holds costs
        its new tokens and its answer; without the server's figures, the slowest attempt."""
        budget = self.settings.time_budget
        if not budget or not self.attempts:
            return False
        spent = time.monotonic() - self.started
        likely = slowest = max(a.seconds for a in self.attempts)
        if self.spent is not None:
            likely = expected_seconds(
                self.spent, messages, answer_cached=self.answer_cached, slowest=slowest
            )
        if spent + likely <= budget:
            return False
        self.out_of_time = budget
        self.progress(
            f"not starting attempt {number}: {spent:.0f} s spent, and it would likely take "
            f"{likely:.0f} s more, past the {budget:g} s time budget (--time-budget)"
        )
        return True

    def _attempt(
        self, number: int, total: int, messages: list[Message], *, candidate: int
    ) -> tuple[Candidate | None, Attempt, Feedback | None]:
        """One generation, its script run and judged: (the winner or None, the attempt, what
        to tell the model next)."""
        from promptkiln.making.repair import (
            Feedback,
            cut_off_problem,
            deadline_problem,
            fresh_request,
            loop_problem,
            sampling_for,
        )

        started = time.monotonic()
        failed = self.failed_scripts
        prev = self.attempts[-1] if self.attempts else None
        stuck = bool(prev and prev.same_failure_as_previous)
        sampling = sampling_for(number, self.settings.temperature, stuck=stuck, seed=number)
        if candidate > 1:  # the other candidates are sampled, each with its own seed
            sampling = sampling_for(
                number, max(self.settings.temperature, CANDIDATE_TEMPERATURE), stuck=False,
                seed=number * 1000 + candidate,
            )  # fmt: skip
        label = f"candidate {candidate}/{self.settings.candidates} of " if candidate else ""
        self.progress(
            f"{label}attempt {number}/{total}: generating the script "
            f"(temperature {sampling.temperature:g})"
        )
        generation = self._generate(messages, sampling)
        attempt = Attempt(number, generation.text, None, None, None, generation.duration_s)
        attempt.plan, attempt.profile = self.plan, self.profile
        attempt.temperature, attempt.candidate = sampling.temperature, candidate
        attempt.stopped = generation.stopped
        self.attempts.append(attempt)
        timings = generation.timings
        attempt.prompt_tokens, attempt.prompt_cached = timings.prompt, timings.cached
        said = timings.describe()
        self.progress(
            f"generated in {generation.duration_s:.1f} s" + (f" ({said})" if said else "")
        )
        script = None
        if generation.stopped != "deadline":  # else the script is unfinished
            script = script_of(generation, attempt, self.progress)
        if script is not None and script_hash(script) in failed:
            # the very script that already failed: do not run it again, ask once more, warmer
            attempt.repeated_script = True
            earlier = failed[script_hash(script)]
            self.progress("the model repeated a script that already failed; asking again")
            warmer = sampling_for(
                number + 1, self.settings.temperature, stuck=True, seed=number + 100
            )
            # A fresh request, without the repeated answer in it: small models copy an
            # answer they can see almost verbatim, at any temperature.
            retry = fresh_request(self.base, earlier.problem or "", earlier.failure)
            generation = self._generate(retry, warmer)
            attempt.response, attempt.temperature = generation.text, warmer.temperature
            attempt.generation_s += generation.duration_s
            if generation.stopped != "deadline":
                script = script_of(generation, attempt, self.progress)
            if script is not None and script_hash(script) in failed:
                attempt.script, attempt.script_sha256 = script, script_hash(script)
                attempt.failure, attempt.same_failure_as_previous = earlier.failure, True
                attempt.problem = (
                    f"the model sent the same script again, which already failed: {earlier.problem}"
                )
                script = None
        feedback: Feedback | None
        winner = None
        if script is None:
            problem = attempt.problem or "no usable script"
            if generation.stopped == "deadline":
                self.out_of_time = self.settings.time_budget
                problem = attempt.problem = deadline_problem(self.settings.time_budget)
            elif generation.stopped == "repetition":
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
            if winner is None:
                failed[attempt.script_sha256] = attempt
        attempt.seconds = time.monotonic() - started
        self.spent = Spent(messages, generation.timings, attempt.generation_s, attempt.seconds)
        return winner, attempt, feedback

    def _run(
        self, attempt: Attempt, script: str, prev: Attempt | None
    ) -> tuple[Candidate | None, Any]:
        from promptkiln.checks import requirements as reqs_mod
        from promptkiln.checks.validate import validate_all
        from promptkiln.making.repair import Feedback, still_running_problem

        script = fixed_before_running(script, attempt, self.progress, self.size, self.plan)
        # the candidates of one round each have their own run and staging directory
        staging = self.staging_root / f"attempt-{attempt.key}"
        settings, cut = run_settings(self.settings, self.started)
        run = run_in_sandbox(
            script.encode(),
            self.inputs,
            staging,
            settings,
            factory=self.factory,
            progress=self.progress,
            run_id=f"{self.run_id}-{attempt.key}",
            allow_extensions=self.formats,
        )
        attempt.run = run
        for key, value in run.timings.items():
            self._add(key, value)
        crashed = run.problem(settings.limits.timeout)
        if cut and run.result.termination is Termination.TIMEOUT:
            self.out_of_time = self.settings.time_budget
            crashed = still_running_problem(self.settings.time_budget)
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
        if files_valid:
            facts = files_facts(run.artifacts)
            if self.wanted:
                attempt.requirements = reqs_mod.check(self.wanted, facts)
            # what the files show against what the data gives (promptkiln.checks.content), from
            # the checked plan and the profile make() sets on the loop (None without a plan)
            self.content.plan = self.plan
            self.content.profile = self.profile
            attempt.requirements += self.content.outcomes(facts, run.chart_facts)
            unmet = reqs_mod.feedback(attempt.requirements, self.formats)
        if files_valid:
            candidate = Candidate(attempt, staging, len(unmet), bool(crashed))
            if not crashed and not unmet:
                return candidate, None
            self.fallbacks.append(candidate)
        if crashed:
            attempt.problem = crashed
        else:
            from promptkiln.checks.requirements_text import placeholder_lines

            where = placeholder_lines(attempt.requirements, script) if unmet else []
            attempt.problem = "; ".join(problems or unmet + where)
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
        from promptkiln.making.hints import hint_for

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

    def _fallback(self) -> Candidate | None:
        """When no attempt fully succeeded: the best one whose files opened, if allowed."""
        usable = [c for c in self.fallbacks if not c.crashed or self.settings.keep_valid_on_crash]
        if not usable:
            return None
        best = min(usable, key=lambda c: (c.crashed, c.unmet, -c.attempt.number))
        self.progress(f"keeping the files of attempt {best.attempt.number}: the best that opened")
        return best

    def warnings(self, winner: Candidate) -> list[str]:
        last = self.attempts[-1].number
        return delivery_warnings(winner.attempt, last, self.out_of_time, crashed=winner.crashed)
