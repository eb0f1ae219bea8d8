"""One pipeline: script in a sandbox -> collected files, and prompt -> script -> files with repair.

Parts are passed in (generator, sandbox factory, progress sink) the way httpx passes a transport
to a Client, so tests use real components wired differently rather than patches.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.config import MAX_TOKENS_CEILING, Settings
from promptkiln.errors import (
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
    #: What matplotlib drew, per saved figure (:mod:`promptkiln.checks.chart_facts`); None
    #: when the backend could not tell.
    chart_facts: list[dict[str, Any]] | None = None

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
        figures: list[dict[str, Any]] | None = None
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
            from promptkiln.checks import chart_facts

            figures = chart_facts.read(sandbox)
    finally:
        t3 = time.monotonic()
        sandbox.close()
        timings["close_s"] = time.monotonic() - t3
    return SandboxRun(run_id, result, artifacts, rejections, sandbox.info, timings, figures)


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


def deliver_dir(
    staging: Path, out: Path, settings: Settings, overwrite: bool, allow: Sequence[str] = ()
) -> list[Artifact]:
    """Move files from a private directory into the user's, under the same collection rules."""
    from promptkiln.sandbox.collect import collect
    from promptkiln.sandbox.direntries import dir_entries

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
                max_tokens=settings.max_tokens or MAX_TOKENS_CEILING,
                timeout_s=settings.request_timeout,
            ),
            settings.model,
        )
    from promptkiln.llm import local
    from promptkiln.llm.json_grammar import server_takes_grammar

    params = local.local_model_params(settings, progress=progress)
    return (
        LiteLLMGenerator(
            params["model"],
            api_base=params["api_base"],
            api_key=params["api_key"],
            temperature=settings.temperature,
            max_tokens=settings.max_tokens or MAX_TOKENS_CEILING,
            timeout_s=settings.request_timeout,
            extra_body=params.get("extra_body"),
            json_grammar=server_takes_grammar(),
        ),
        f"bundled {params['model'].split('/', 1)[-1]}",
    )


def prewarm(settings: Settings) -> SandboxPool | None:
    """A pool of one Docker sandbox, started now so it warms while the model generates (the
    CLI has no long-lived process to keep a real pool). None when the pool is off or the
    backend is not Docker."""
    if settings.backend != "docker" or settings.pool.size <= 0:
        return None
    from promptkiln.sandbox.pool import SandboxPool

    return SandboxPool(settings, size=1)
