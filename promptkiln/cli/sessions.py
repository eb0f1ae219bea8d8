"""The ``continue`` and ``sessions …`` commands; :func:`register` adds them to the app.

Ids are accepted as unique prefixes, like git. Output is made printable with
:mod:`promptkiln.cli.render` (prompts, scripts and streams are untrusted text).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from promptkiln import leftovers
from promptkiln.cli.common import (
    JsonOpt,
    files_manifest,
    load_cli_settings,
    open_cli_store,
    print_manifest,
    progress_printer,
    when,
)
from promptkiln.cli.render import clean_line, clean_text, say
from promptkiln.cli.report import (
    CandidatesOpt,
    KeepValidOpt,
    ModelRequirementsOpt,
    TimeBudgetOpt,
    print_quality,
    quality_json,
)
from promptkiln.errors import UsageError

sessions_app = typer.Typer(
    help="Sessions: follow-up turns on the same files.", invoke_without_command=True
)


def parse_age(text: str) -> float:
    """``"30d"`` -> seconds. Units: s, m, h, d, w."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise UsageError(f"{text!r} is not an age", hint="use a number and a unit: 30d, 12h, 90m")
    return (
        float(match.group(1))
        * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    )


def continue_(
    first: Annotated[
        str,
        typer.Argument(
            metavar="SESSION", help="The session id (a unique prefix), or the prompt with --last."
        ),
    ],
    prompt: Annotated[
        str | None, typer.Argument(metavar="PROMPT", help="What to change or add.")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Continue the last used session.")] = False,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory the files are written to.")
    ] = Path("out"),
    inputs: Annotated[
        list[Path] | None, typer.Option("--input", "-i", help="Another input file (repeatable).")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format (default: named in the prompt, else the last turn's).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Default: the session's model.")
    ] = None,
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Default: the session's.")
    ] = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="Default: the session's.")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine", help="local, claude, openai, gemini or auto (default: the session's)."
        ),
    ] = None,
    attempts: Annotated[int | None, typer.Option("--attempts", help="Repair attempts.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per run.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files in --out instead of suffixing.")
    ] = False,
    json_: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    keep_valid_on_crash: KeepValidOpt = False,
    candidates: CandidatesOpt = None,
    time_budget: TimeBudgetOpt = None,
    model_requirements: ModelRequirementsOpt = False,
) -> None:
    """Continue a session: the model edits the session's latest files."""
    from promptkiln.config import load_settings
    from promptkiln.making.sessions import run_turn

    if last:
        if prompt is not None:
            raise UsageError("--last takes only the prompt", hint='promptkiln continue --last "…"')
        ref, text = None, first
    else:
        if prompt is None:
            raise UsageError(
                "say which session and what to change",
                hint='promptkiln continue SESSION "…", or promptkiln continue --last "…"',
            )
        ref, text = first, prompt
    base = load_settings()
    with open_cli_store(base) as store:
        sid = store.last_session() if last else store.resolve_session(ref or "")
        row = store.session(sid)
        if engine is None:
            from promptkiln.engines.run import session_engine

            engine = session_engine(store, sid)
    settings = load_settings(
        engine=engine,
        model=model if model is not None else row["model"],
        api_base=api_base if api_base is not None else (row["api_base"] if model is None else None),
        backend=backend or row["backend"],
        attempts=attempts,
        limits={"timeout": timeout},
        keep_valid_on_crash=keep_valid_on_crash or None,
        candidates=candidates,
        time_budget=time_budget,
        model_requirements=model_requirements or None,
    )
    turn = run_turn(
        text,
        session=sid,
        formats=formats or [],
        inputs=inputs or [],
        out=out,
        settings=settings,
        overwrite=overwrite,
        progress=progress_printer(quiet or json_),
    )
    versions = dict(turn.versions)
    if json_:
        manifest = files_manifest(turn.delivered, turn.result.rejections)
        manifest.update(
            session=sid,
            turn=turn.turn,
            versions=versions,
            attempts=turn.result.attempt_count,
            model=turn.result.model,
            **quality_json(turn.result),
        )
        from promptkiln.cli.engines import engine_of

        manifest.update(engine_of(turn.result))
        typer.echo(json.dumps(manifest, indent=2))
        return
    print_manifest(turn.delivered, turn.result.rejections)
    print_quality(turn.result)
    changed = ", ".join(f"{clean_line(n, 80)} v{v}" for n, v in turn.versions) or "no file changed"
    say(f"session {sid} turn {turn.turn}: {changed}")


@sessions_app.callback()
def sessions_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List sessions: id, title, model, backend, files, last used."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_cli_settings()
    with open_cli_store(settings) as store:
        rows = store.sessions()
    if json_:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r["id"],
                        "title": r["title"],
                        "model": r["model"],
                        "backend": r["backend"],
                        "files": r["nfiles"],
                        "turns": r["nturns"],
                        "updated": r["updated"],
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        say('no sessions yet: start one with promptkiln make "…"')
        return
    typer.echo(f"{'ID':<12}  {'LAST USED':<16}  {'MODEL':<20}  {'BACKEND':<7}  FILES  TURNS  TITLE")
    for r in rows:
        typer.echo(
            f"{r['id'][:12]:<12}  {when(r['updated']):<16}  {clean_line(r['model'] or 'bundled', 20):<20}  "
            f"{r['backend']:<7}  {r['nfiles']:>5}  {r['nturns']:>5}  {clean_line(r['title'], 60)}"
        )


@sessions_app.command("show")
def sessions_show(
    ref: Annotated[str, typer.Argument(help="Session id or unique prefix.")], json_: JsonOpt = False
) -> None:
    """Turns, scripts, files and their versions."""
    settings = load_cli_settings()
    with open_cli_store(settings) as store:
        sid = store.resolve_session(ref)
        s, turns, files = store.session(sid), store.turns(sid), store.files(sid)
    statuses = {
        t["number"]: (
            "interrupted"
            if t["status"] == "running" and not leftovers.pid_alive(t["pid"] or 0)
            else t["status"]
        )
        for t in turns
    }
    if json_:
        typer.echo(
            json.dumps(
                {
                    "session": dict(s),
                    "turns": [dict(t) | {"status": statuses[t["number"]]} for t in turns],
                    "files": [dict(f) for f in files],
                },
                indent=2,
            )
        )
        return
    typer.echo(f"session {s['id']}  {clean_line(s['title'], 80)}")
    typer.echo(
        f"model {s['model'] or 'bundled'}  backend {s['backend']}  created {when(s['created'])}  last used {when(s['updated'])}"
    )
    for t in turns:
        typer.echo(
            f"\nturn {t['number']}  {statuses[t['number']]}  {when(t['created'])}  formats {', '.join(json.loads(t['formats']))}"
        )
        typer.echo(
            "  prompt: "
            + (clean_line(t["prompt"], 300) if t["prompt"] else f"(hash only) {t['prompt_sha256']}")
        )
        if t["problem"]:
            typer.echo("  problem: " + clean_line(t["problem"], 300))
        typer.echo("  runs: " + ", ".join(json.loads(t["run_ids"])))
        if t["script"]:
            typer.echo("  script:")
            typer.echo("    " + clean_text(t["script"]).replace("\n", "\n    "))
    typer.echo("\nfiles:")
    for f in files:
        typer.echo(
            f"  {clean_line(f['name'], 60):<30} v{f['version']:<3} turn {f['turn']:<3} {f['role']:<6} "
            f"{f['bytes']:>10,} B  {f['sha256'][:16]}  {clean_line(f['delivered'] or '', 80)}"
        )


@sessions_app.command("get")
def sessions_get(
    ref: Annotated[str, typer.Argument(help="Session id or unique prefix.")],
    name: Annotated[str, typer.Argument(help="The file's name in the session.")],
    dest: Annotated[Path, typer.Option("--out", "-o", help="Where to write it.")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="Default: the latest.")
    ] = None,
) -> None:
    """Write one version of a session's file (v1, v2, …) to a path."""
    from promptkiln.records.sessions import file_version_bytes

    data = file_version_bytes(load_cli_settings(), ref, name, version)
    if dest.exists():
        raise UsageError(f"{dest} already exists", hint="choose another path")
    dest.write_bytes(data)
    say(f"wrote {dest} ({len(data):,} bytes)")


@sessions_app.command("rm")
def sessions_rm(
    refs: Annotated[list[str], typer.Argument(help="Session ids or prefixes.")],
) -> None:
    """Delete sessions and every stored file no other session or run references."""
    settings = load_cli_settings()
    with open_cli_store(settings) as store:
        for ref in refs:
            sid = store.resolve_session(ref)
            n = store.remove_session(sid)
            typer.echo(f"removed session {sid[:12]} ({n} stored file(s) deleted)")


@sessions_app.command("gc")
def sessions_gc(
    older_than: Annotated[str, typer.Option("--older-than", help="Age, e.g. 30d, 12h.")] = "30d",
) -> None:
    """Remove sessions unused for a while, and stored files nothing references."""
    settings = load_cli_settings()
    with open_cli_store(settings) as store:
        removed, blobs = store.gc(parse_age(older_than))
    typer.echo(f"removed {len(removed)} session(s), {blobs} stored file(s)")


def register(app: typer.Typer) -> None:
    """Add ``continue`` and ``sessions`` to the promptkiln app."""
    app.command("continue")(continue_)
    app.add_typer(sessions_app, name="sessions")
