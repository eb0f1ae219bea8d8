"""The ``promptkiln`` command line.

Every failure ends as one line ``error: <what happened> — <what to do>`` on stderr and a distinct
exit code (see README); never a traceback. Progress goes to stderr, results to stdout, so
``--json`` output can be piped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import click
import typer

from promptkiln.cli.admin import register as register_admin
from promptkiln.cli.bundle import register as register_bundle
from promptkiln.cli.common import (
    files_manifest,
    load_cli_settings,
    print_manifest,
    progress_printer,
    record_run,
    show_streams,
)
from promptkiln.cli.engines import engine_of
from promptkiln.cli.engines import register as register_engines
from promptkiln.cli.live import LiveOpt, live_factory
from promptkiln.cli.mcp import register as register_mcp
from promptkiln.cli.options import (
    ApiBaseOpt,
    AttemptsOpt,
    BackendOpt,
    E2BTemplateOpt,
    ModelOpt,
    RuntimeOpt,
    TemplatesOpt,
    TimeoutOpt,
    pipeline_settings,
)
from promptkiln.cli.render import clean_line, say
from promptkiln.cli.report import (
    CandidatesOpt,
    KeepValidOpt,
    ModelRequirementsOpt,
    TimeBudgetOpt,
    print_quality,
    quality_json,
)
from promptkiln.cli.runs import register as register_runs
from promptkiln.cli.server import register as register_server
from promptkiln.cli.sessions import register as register_sessions
from promptkiln.errors import OutputError, PromptkilnError, UsageError

app = typer.Typer(
    name="promptkiln",
    help="Turn a prompt into real files: a model writes a script, a locked-down sandbox runs it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
image_app = typer.Typer(help="Build and inspect the sandbox image.", no_args_is_help=True)
app.add_typer(image_app, name="image")

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Directory the files are written to.")]
InputOpt = Annotated[
    list[Path] | None,
    typer.Option("--input", "-i", help="A file the script can read in ./inputs/ (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the manifest as JSON on stdout.")]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing files in --out instead of suffixing.")
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Who makes the files: local (default; nothing leaves this machine), claude, openai, "
        "gemini, or auto (the routing table; see promptkiln engines).",
    ),
]


@app.command()
def run(
    script: Annotated[Path, typer.Argument(help="The Python script to run in the sandbox.")],
    out: OutOpt = Path("out"),
    inputs: InputOpt = None,
    json_: JsonOpt = False,
    backend: BackendOpt = None,
    timeout: TimeoutOpt = None,
    runtime: RuntimeOpt = None,
    e2b_template: E2BTemplateOpt = None,
    overwrite: OverwriteOpt = False,
    allow_ext: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-ext",
            help="Also deliver files of this type (e.g. py); by default only documents, images and data.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    live: LiveOpt = False,
    warm: Annotated[
        bool,
        typer.Option(
            "--warm",
            help="Run through a warmed sandbox, as the pool, `make` and the server do (docker "
            "backend; one job gains nothing: the warm-up is paid first).",
        ),
    ] = False,
) -> None:
    """Run YOUR script in the sandbox (no model) and collect the files it makes."""
    from promptkiln.making.pipeline import raise_for_run, read_inputs, run_in_sandbox

    settings = load_cli_settings(
        backend=backend,
        runtime=runtime,
        limits={"timeout": timeout},
        e2b={"template": e2b_template},
    )
    try:
        code = script.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"script {script} does not exist", hint="check the path") from exc
    except OSError as exc:
        raise UsageError(f"cannot read script {script}: {exc.strerror or exc}") from exc
    files = read_inputs(inputs or [])
    progress = progress_printer(quiet or json_)
    factory = None
    if warm:
        if settings.backend != "docker":
            raise UsageError("--warm is for the docker backend", hint="drop --warm")
        from promptkiln.sandbox.docker import DockerSandbox

        def factory(s: Any, run_id: str) -> Any:
            return DockerSandbox(s, run_id, warm=True)

    if live:
        factory = live_factory(factory)
    try:
        result = run_in_sandbox(
            code,
            files,
            out,
            settings,
            factory=factory,
            overwrite=overwrite,
            progress=progress,
            allow_extensions=allow_ext or (),
        )
    except OutputError as exc:  # e.g. a full disk: still show what the script printed
        if exc.run_result is not None:
            show_streams(exc.run_result, live=live)
        raise
    show_streams(result.result, live=live)
    if json_:
        manifest = files_manifest(result.artifacts, result.rejections)
        manifest.update(
            exit_code=result.result.exit_code,
            termination=result.result.termination.value,
            duration_s=round(result.result.duration_s, 3),
            stdout_truncated=result.result.stdout.truncated,
            stderr_truncated=result.result.stderr.truncated,
        )
        typer.echo(json.dumps(manifest, indent=2))
    else:
        print_manifest(result.artifacts, result.rejections)
    try:
        raise_for_run(result, settings)
    finally:
        record_run(settings, "run", result, script=code.decode("utf-8", "replace"), inputs=files)


@app.command()
def make(
    prompt: Annotated[str, typer.Argument(help="What to make, in plain words.")],
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format", "-f", help="Output format to produce: png, pdf, xlsx, … (repeatable)."
        ),
    ] = None,
    inputs: InputOpt = None,
    out: OutOpt = Path("out"),
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    backend: BackendOpt = None,
    engine: EngineOpt = None,
    attempts: AttemptsOpt = None,
    timeout: TimeoutOpt = None,
    runtime: RuntimeOpt = None,
    e2b_template: E2BTemplateOpt = None,
    templates: TemplatesOpt = None,
    json_: JsonOpt = False,
    keep_script: Annotated[
        bool, typer.Option("--keep-script", help="Also save the final script into --out.")
    ] = False,
    overwrite: OverwriteOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    keep_valid_on_crash: KeepValidOpt = False,
    candidates: CandidatesOpt = None,
    time_budget: TimeBudgetOpt = None,
    model_requirements: ModelRequirementsOpt = False,
    live: LiveOpt = False,
) -> None:
    """Turn a prompt into files: generate a script, run it in the sandbox, check the files."""
    from promptkiln.making.sessions import run_turn

    settings = pipeline_settings(
        model=model,
        api_base=api_base,
        backend=backend,
        engine=engine,
        attempts=attempts,
        timeout=timeout,
        runtime=runtime,
        e2b_template=e2b_template,
        templates=templates,
        keep_valid_on_crash=keep_valid_on_crash or None,
        candidates=candidates,
        time_budget=time_budget,
        model_requirements=model_requirements or None,
    )
    progress = progress_printer(quiet or json_)
    tokens = _TokenMeter(enabled=not (quiet or json_))
    turn = run_turn(
        prompt,
        formats=formats or [],
        inputs=inputs or [],
        out=out,
        settings=settings,
        overwrite=overwrite,
        progress=progress,
        on_token=tokens,
        factory=live_factory() if live else None,
    )
    result = turn.result
    files = list(turn.delivered)
    if keep_script:
        files += _save_script(result.script, out, settings, overwrite)
    if json_:
        manifest = files_manifest(files, result.rejections)
        manifest.update(
            session=turn.session_id,
            attempts=result.attempt_count,
            model=result.model,
            timings={k: round(v, 3) for k, v in result.timings.items()},
            **quality_json(result),
        )
        manifest.update(engine_of(result))
        typer.echo(json.dumps(manifest, indent=2))
    else:
        print_manifest(files, result.rejections)
        print_quality(result)
        say(
            f"done in {result.attempt_count} attempt(s): "
            + ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in result.timings.items())
        )
        say(
            f'session {turn.session_id} (continue it: promptkiln continue {turn.session_id[:8]} "...")'
        )


class _TokenMeter:
    """Shows streaming progress: tokens so far and tokens per second, on one line."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.count = 0
        self.started = 0.0

    def __call__(self, token: str) -> None:
        if not self.count:
            self.started = time.monotonic()
        self.count += 1
        if self.enabled and self.count % 8 == 0:
            rate = self.count / max(time.monotonic() - self.started, 1e-6)
            sys.stderr.write(f"\r  {self.count} tokens, {rate:.1f} tok/s ")
            sys.stderr.flush()


def _save_script(code: str, out: Path, settings: Any, overwrite: bool) -> list[Any]:
    import tempfile

    from promptkiln.making.pipeline import deliver_dir

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "script.py").write_text(code)
        return deliver_dir(Path(tmp), out, settings, overwrite, ["py"])


@app.command()
def doctor(
    backend: BackendOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Say what works: engine, image, runtime, isolation, limits, models."""
    from promptkiln.cli.doctor import run_checks

    settings = load_cli_settings(backend=backend)
    checks = run_checks(settings)
    if json_:
        typer.echo(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for c in checks:
            mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "info": "    "}[c.status]
            typer.echo(f"{mark}  {c.name:<18} {c.detail}")
            if c.hint and c.status != "ok":
                typer.echo(f"      {'':<18} → {c.hint}")
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


register_admin(app, image_app)
register_sessions(app)
register_runs(app)
register_server(app)
register_engines(app)
register_mcp(app)
register_bundle(app)


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the app, turn every known failure into one line and an exit code."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rc = app(args=argv, standalone_mode=False)
    except PromptkilnError as exc:
        say(f"error: {clean_line(str(exc), 2000)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        say("interrupted: the sandbox was removed and nothing partial was written")
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        say("interrupted: the sandbox was removed and nothing partial was written")
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # typer's own click: a bad option value, an unknown flag
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            say(f"error: {clean_line(str(exc), 500)}")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except OSError as exc:  # the disk, a permission, a vanished file: say which, not a traceback
        say(f"error: {clean_line(str(exc), 500)} — check the path and free space, then run again")
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("PROMPTKILN_DEBUG"):
            raise
        say(
            f"error: internal error ({type(exc).__name__}: {clean_line(str(exc), 300)}) — "
            "this is a promptkiln bug; run again with PROMPTKILN_DEBUG=1 for the traceback "
            "and report it"
        )
        sys.exit(EXIT_INTERNAL)
    if rc == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a return value of 130, silently
        say("interrupted: the sandbox was removed and nothing partial was written")
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
