"""One pipeline: script in a sandbox -> collected files, and prompt -> script -> files with repair.

Parts are passed in (generator, sandbox factory, progress sink) the way httpx passes a transport
to a Client, so tests use real components wired differently rather than patches.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln import leftovers
from promptkiln.config import Settings, load_settings
from promptkiln.errors import (
    AttemptsExhausted,
    ExtractionError,
    LimitExceeded,
    OutputError,
    OutputRejected,
    SandboxTimeout,
    ScriptFailed,
    UsageError,
)
from promptkiln.sandbox.base import (
    SCRIPT_PATH,
    Artifact,
    InputFile,
    Rejection,
    RunResult,
    Sandbox,
    SandboxInfo,
    Termination,
)

if TYPE_CHECKING:
    from promptkiln.llm.generate import CodeGenerator
    from promptkiln.sandbox.pool import SandboxPool

Progress = Callable[[str], None]
SandboxFactory = Callable[[Settings, str], Sandbox]


def _quiet(_: str) -> None:
    return None


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def read_inputs(paths: Sequence[Path]) -> list[InputFile]:
    """Read the user's input files; one clear error for the first that cannot be used."""
    files: list[InputFile] = []
    seen: set[str] = set()
    for path in paths:
        name = path.name
        if not path.exists():
            raise UsageError(
                f"input file {path} does not exist", hint="check the path given to --input"
            )
        if path.is_dir():
            raise UsageError(f"input {path} is a directory", hint="pass files, one --input each")
        if name in seen:
            raise UsageError(
                f"two inputs are named {name!r}",
                hint="inputs land in ./inputs/ by name; rename one",
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(
                f"cannot read input file {path}: {exc.strerror or exc}",
                hint="check its permissions",
            ) from exc
        seen.add(name)
        files.append(InputFile(name=name, data=data))
    return files


@dataclass(frozen=True)
class SandboxRun:
    """One script run in one fresh sandbox, with its collected files."""

    run_id: str
    result: RunResult
    artifacts: list[Artifact]
    rejections: list[Rejection]
    sandbox: SandboxInfo
    timings: dict[str, float] = field(default_factory=dict)

    def problem(self, timeout_s: float) -> str | None:
        """What went wrong, as one short sentence for a person or a repair prompt; None if fine."""
        r = self.result
        if r.termination is Termination.TIMEOUT:
            return f"the script was killed after the {timeout_s:g} s time limit"
        if r.termination is Termination.MEMORY:
            return "the script was killed for exceeding the memory limit"
        if r.exit_code != 0:
            return f"the script exited with status {r.exit_code}"
        return None


def run_in_sandbox(
    script: bytes,
    inputs: Sequence[InputFile],
    dest: Path,
    settings: Settings,
    *,
    factory: SandboxFactory | None = None,
    overwrite: bool = False,
    progress: Progress = _quiet,
    run_id: str | None = None,
    allow_extensions: Sequence[str] = (),
) -> SandboxRun:
    """Run ``script`` in a fresh sandbox and deliver its outputs into ``dest``.

    Outputs are collected only when the script ran to its end (any exit status): a killed run
    delivers nothing. Collection rules live in :mod:`promptkiln.sandbox.collect`;
    ``allow_extensions`` adds file types to the deliverable ones (documents, images, data).
    """
    from promptkiln.sandbox.collect import collect
    from promptkiln.sandbox.registry import create_sandbox

    run_id = run_id or new_run_id()
    limits = settings.limits.to_limits()
    timings: dict[str, float] = {}
    make = factory or (lambda s, rid: create_sandbox(s.backend, s, rid))
    sandbox = make(settings, run_id)
    t0 = time.monotonic()
    progress(f"starting the sandbox ({sandbox.info.backend}, runtime {sandbox.info.runtime})")
    try:
        sandbox.start()
        sandbox.put_inputs(inputs, script)
        timings["start_s"] = time.monotonic() - t0
        progress(f"running the script (limit {limits.timeout_s:g} s)")
        t1 = time.monotonic()
        result = sandbox.run(["python3", SCRIPT_PATH], timeout_s=limits.timeout_s)
        timings["run_s"] = time.monotonic() - t1
        artifacts: list[Artifact] = []
        rejections: list[Rejection] = []
        if result.termination is Termination.EXITED:
            t2 = time.monotonic()
            progress("collecting the files")
            try:
                collected = collect(
                    sandbox.outputs(),
                    dest,
                    limits,
                    overwrite=overwrite,
                    extensions=deliverable(allow_extensions),
                )
            except OutputError as exc:
                exc.run_result = result  # so the caller can still show what the script printed
                raise
            artifacts, rejections = list(collected.artifacts), list(collected.rejections)
            timings["collect_s"] = time.monotonic() - t2
    finally:
        t3 = time.monotonic()
        sandbox.close()
        timings["close_s"] = time.monotonic() - t3
    return SandboxRun(run_id, result, artifacts, rejections, sandbox.info, timings)


def deliverable(extra: Sequence[str] = ()) -> frozenset[str]:
    """The file types collection delivers: the safe defaults plus any the user asked for."""
    from promptkiln.sandbox.collect import DELIVERABLE_EXTENSIONS

    return DELIVERABLE_EXTENSIONS | {e.lower().lstrip(".") for e in extra}


def raise_for_run(run: SandboxRun, settings: Settings) -> None:
    """Turn a finished run into the exception that says what happened, or return if it's fine."""
    r = run.result
    if r.termination is Termination.TIMEOUT:
        raise SandboxTimeout(settings.limits.timeout)
    if r.termination is Termination.MEMORY:
        raise LimitExceeded(
            "memory",
            f"the script used more than the {settings.limits.memory / 2**20:.0f} MiB memory limit "
            "and was killed",
            hint="use less memory, or raise it (PROMPTKILN_LIMITS__MEMORY or [limits] memory)",
        )
    if r.exit_code != 0:
        raise ScriptFailed(r.exit_code if r.exit_code is not None else -1, r.stderr.text[-2000:])
    if run.rejections and not run.artifacts:
        raise OutputRejected(
            f"every output was rejected ({len(run.rejections)} entries)",
            hint="write plain regular files into the working directory",
        )
    if not run.artifacts:
        raise OutputRejected(
            "the script finished but wrote no files in its working directory",
            hint="write the output files into the current directory (/home/user/work)",
        )
    if run.rejections:
        raise OutputRejected(
            f"{len(run.rejections)} output entries were rejected; "
            f"{len(run.artifacts)} files were delivered",
            hint="see the reasons above",
        )


# -- prompt -> files -------------------------------------------------------------------------


@dataclass
class Attempt:
    """One round of the repair loop, kept in the transcript."""

    number: int
    response: str
    script: str | None
    problem: str | None
    run: SandboxRun | None
    generation_s: float


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

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)


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
) -> MakeResult:
    """Turn a prompt into files in ``out``: generate, extract, run, validate, repair.

    ``existing`` are extra input files (a session's current workspace) placed in ``inputs/``
    like the user's inputs. ``on_attempt`` is called after every attempt, successful or not,
    so callers can record runs as they happen.

    Files of failed attempts never reach ``out``: each attempt collects into a private staging
    directory, and only the accepted attempt's files are delivered (atomically, never
    overwriting unless ``overwrite``).
    """
    from promptkiln.llm.extract import extract
    from promptkiln.llm.generate import Message
    from promptkiln.llm.prompts import InputSummary, render_messages, repair_message
    from promptkiln.validate import validate_all

    settings = settings or load_settings()
    if not prompt.strip():
        raise UsageError("the prompt is empty", hint='say what to make, e.g. "a bar chart of ..."')
    formats = [f.lower().lstrip(".") for f in formats]
    input_files = [*existing, *read_inputs(list(inputs))]
    if generator is None and settings.model:
        progress("loading the model client (litellm)")
    gen, model_name = make_generator(generator, settings, progress)
    summaries = [InputSummary.from_bytes(f.name, f.data) for f in input_files]
    messages = list(
        render_messages(
            prompt,
            formats,
            summaries,
            templates_dir=settings.templates_dir,
            existing_files=[f.name for f in existing],
        )
    )
    attempts: list[Attempt] = []
    timings: dict[str, float] = {}
    run_id = new_run_id()
    leftovers.sweep()  # temp dirs of commands that were kill -9'd
    staging_root = leftovers.owned_tempdir("attempt")
    pool = prewarm(settings) if factory is None else None
    factory = pool.factory if pool is not None else factory
    try:
        for number in range(1, settings.attempts + 1):
            progress(
                f"attempt {number}/{settings.attempts}: generating the script with {model_name}"
            )
            t0 = time.monotonic()
            generation = gen.generate(messages, on_token=on_token)
            gen_s = time.monotonic() - t0
            timings["generate_s"] = timings.get("generate_s", 0.0) + gen_s
            progress(f"generated in {gen_s:.1f} s")
            attempt = Attempt(number, generation.text, None, None, None, gen_s)
            attempts.append(attempt)
            try:
                if getattr(generation, "truncated", False):
                    raise ExtractionError(
                        "response_too_large",
                        "the answer was longer than the 1 MB that is read, and was cut off",
                    )
                script = extract(generation.text)
            except ExtractionError as exc:
                attempt.problem = f"no usable script in the answer: {exc.message}"
                if on_attempt:
                    on_attempt(attempt)
                progress(attempt.problem)
                messages += [Message("assistant", generation.text), repair_message(attempt.problem)]
                continue
            attempt.script = script.code
            staging = staging_root / f"attempt-{number}"
            run = run_in_sandbox(
                script.code.encode(),
                input_files,
                staging,
                settings,
                factory=factory,
                progress=progress,
                run_id=f"{run_id}-{number}",
                allow_extensions=formats,
            )
            attempt.run = run
            for key, value in run.timings.items():
                timings[key] = timings.get(key, 0.0) + value
            problem = run.problem(settings.limits.timeout)
            stderr = ""
            if problem is None:
                t1 = time.monotonic()
                progress("validating the files")
                problems = validate_all(run.artifacts, formats)
                if not run.artifacts and not formats:
                    problems.append("the script wrote no files in the working directory")
                timings["validate_s"] = timings.get("validate_s", 0.0) + time.monotonic() - t1
                if not problems:
                    files = deliver_dir(staging, out, settings, overwrite, formats)
                    progress(f"attempt {number} succeeded")
                    if on_attempt:
                        on_attempt(attempt)
                    return MakeResult(
                        files, script.code, attempts, timings, model_name, run_id, run.rejections
                    )
                problem = "; ".join(problems)
            else:
                stderr = run.result.stderr.text
            attempt.problem = problem
            if on_attempt:
                on_attempt(attempt)
            progress(f"attempt {number} failed: {problem.splitlines()[0]}")
            messages += [
                Message("assistant", generation.text),
                repair_message(problem, stderr=stderr),
            ]
        last = attempts[-1].problem if attempts else "no attempt was made"
        raise AttemptsExhausted(len(attempts), (last or "").splitlines()[0])
    finally:
        if pool is not None:
            pool.close()
        shutil.rmtree(staging_root, ignore_errors=True)


def prewarm(settings: Settings) -> SandboxPool | None:
    """A pool of one Docker sandbox, started now so it warms while the model generates (the
    CLI has no long-lived process to keep a real pool). None when the pool is off or the
    backend is not Docker."""
    if settings.backend != "docker" or settings.pool.size <= 0:
        return None
    from promptkiln.sandbox.pool import SandboxPool

    return SandboxPool(settings, size=1)


def deliver_dir(
    staging: Path, out: Path, settings: Settings, overwrite: bool, allow: Sequence[str] = ()
) -> list[Artifact]:
    """Move files from a private directory into the user's, under the same collection rules."""
    from promptkiln.sandbox.collect import collect
    from promptkiln.sandbox.tarentries import dir_entries

    result = collect(
        dir_entries(staging, skip_dirs=()),
        out,
        settings.limits.to_limits(),
        overwrite=overwrite,
        extensions=deliverable(allow),
    )
    return list(result.artifacts)


def make_generator(
    generator: CodeGenerator | None, settings: Settings, progress: Progress
) -> tuple[CodeGenerator, str]:
    """The generator to use, and a name for it: the given one, a configured model, or the bundled one."""
    from promptkiln.llm.generate import LiteLLMGenerator

    if generator is not None:
        return generator, str(getattr(generator, "model", type(generator).__name__))
    if settings.model:
        api_key = settings.api_key
        if (
            api_key is None
            and settings.api_base
            and settings.model.startswith("openai/")
            and not os.environ.get("OPENAI_API_KEY")
        ):
            api_key = "sk-no-key-required"  # self-hosted OpenAI-compatible servers take any key
        return (
            LiteLLMGenerator(
                settings.model,
                api_base=settings.api_base,
                api_key=api_key,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
                timeout_s=settings.request_timeout,
            ),
            settings.model,
        )
    from promptkiln.llm import local

    params = local.local_model_params(settings, progress=progress)
    return (
        LiteLLMGenerator(
            params["model"],
            api_base=params["api_base"],
            api_key=params["api_key"],
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            timeout_s=settings.request_timeout,
            extra_body=params.get("extra_body"),
        ),
        f"bundled {params['model'].split('/', 1)[-1]}",
    )


__all__ = [
    "Attempt",
    "MakeResult",
    "SandboxRun",
    "make",
    "raise_for_run",
    "read_inputs",
    "run_in_sandbox",
]
