"""The ``continue``, ``sessions …`` and ``runs …`` commands; :func:`register` adds them to the app.

Ids are accepted as unique prefixes, like git. Output is made printable with
:mod:`promptkiln.cli.render` (prompts, scripts and streams are untrusted text).
"""

from __future__ import annotations

import datetime
import json
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkiln import leftovers
from promptkiln.cli.common import files_manifest, print_manifest, progress_printer
from promptkiln.cli.render import clean_line, clean_text, say
from promptkiln.cli.report import (
    AcceptUnmetOpt,
    CandidatesOpt,
    KeepValidOpt,
    ModelRequirementsOpt,
    TimeBudgetOpt,
    print_quality,
    quality_json,
    raise_if_unmet,
)
from promptkiln.errors import UsageError

sessions_app = typer.Typer(
    help="Sessions: follow-up turns on the same files.", invoke_without_command=True
)
runs_app = typer.Typer(
    help="The audit trail: every run, newest first.", invoke_without_command=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _settings(**overrides: Any) -> Any:
    from promptkiln.config import load_settings

    return load_settings(**overrides)


def _store(settings: Any) -> Any:
    from promptkiln.records.store import open_store

    return open_store(settings)


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


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
    accept_unmet: AcceptUnmetOpt = False,
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
    with _store(base) as store:
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
        accept_unmet=accept_unmet or None,
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
        from promptkiln.engines.cli import engine_of

        manifest.update(engine_of(turn.result))
        typer.echo(json.dumps(manifest, indent=2))
    else:
        print_manifest(turn.delivered, turn.result.rejections)
        print_quality(turn.result)
        changed = ", ".join(f"{clean_line(n, 80)} v{v}" for n, v in turn.versions)
        say(f"session {sid} turn {turn.turn}: {changed or 'no file changed'}")
    raise_if_unmet(turn.result, settings, sid)


@sessions_app.callback()
def sessions_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List sessions: id, title, model, backend, files, last used."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    with _store(settings) as store:
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
            f"{r['id'][:12]:<12}  {_when(r['updated']):<16}  {clean_line(r['model'] or 'bundled', 20):<20}  "
            f"{r['backend']:<7}  {r['nfiles']:>5}  {r['nturns']:>5}  {clean_line(r['title'], 60)}"
        )


@sessions_app.command("show")
def sessions_show(
    ref: Annotated[str, typer.Argument(help="Session id or unique prefix.")], json_: JsonOpt = False
) -> None:
    """Turns, scripts, files and their versions."""
    settings = _settings()
    with _store(settings) as store:
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
        f"model {s['model'] or 'bundled'}  backend {s['backend']}  created {_when(s['created'])}  last used {_when(s['updated'])}"
    )
    for t in turns:
        typer.echo(
            f"\nturn {t['number']}  {statuses[t['number']]}  {_when(t['created'])}  formats {', '.join(json.loads(t['formats']))}"
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
    from promptkiln.making.sessions import file_version_bytes

    data = file_version_bytes(_settings(), ref, name, version)
    if dest.exists():
        raise UsageError(f"{dest} already exists", hint="choose another path")
    dest.write_bytes(data)
    say(f"wrote {dest} ({len(data):,} bytes)")


@sessions_app.command("rm")
def sessions_rm(
    refs: Annotated[list[str], typer.Argument(help="Session ids or prefixes.")],
) -> None:
    """Delete sessions and every stored file no other session or run references."""
    settings = _settings()
    with _store(settings) as store:
        for ref in refs:
            sid = store.resolve_session(ref)
            n = store.remove_session(sid)
            typer.echo(f"removed session {sid[:12]} ({n} stored file(s) deleted)")


@sessions_app.command("gc")
def sessions_gc(
    older_than: Annotated[str, typer.Option("--older-than", help="Age, e.g. 30d, 12h.")] = "30d",
) -> None:
    """Remove sessions unused for a while, and stored files nothing references."""
    settings = _settings()
    with _store(settings) as store:
        removed, blobs = store.gc(parse_age(older_than))
    typer.echo(f"removed {len(removed)} session(s), {blobs} stored file(s)")


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many.")] = 30,
    json_: JsonOpt = False,
) -> None:
    """Every run, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    with _store(settings) as store:
        records = store.runs(limit=limit)
    if json_:
        typer.echo(json.dumps([r.body | {"hash": r.hash} for r in records], indent=2))
        return
    typer.echo(
        f"{'RUN':<15}  {'TIME':<16}  {'KIND':<8}  {'SESSION':<12}  {'EXIT':<9}  FILES  MODEL"
    )
    for r in records:
        b = r.body
        status = b.get("termination") or "no run"
        if status == "exited":
            status = f"exit {b.get('exit_code')}"
        typer.echo(
            f"{r.id:<15}  {_when(r.created):<16}  {r.kind:<8}  {(r.session_id or '')[:12]:<12}  "
            f"{status:<9}  {len(b.get('outputs') or []):>5}  {clean_line(b.get('model') or '', 30)}"
        )


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return f"(hash only) sha256 {value.get('sha256')}, {value.get('chars')} chars"
    return clean_text(str(value)) if value is not None else "(none)"


@runs_app.command("show")
def runs_show(
    ref: Annotated[str, typer.Argument(help="Run id or unique prefix.")], json_: JsonOpt = False
) -> None:
    """Prompt, model, script, image, limits, exit, stdout/stderr, file hashes."""
    settings = _settings()
    with _store(settings) as store:
        rec = store.get_run(ref)
    b = rec.body
    if json_:
        typer.echo(
            json.dumps(b | {"seq": rec.seq, "hash": rec.hash, "prev_hash": rec.prev_hash}, indent=2)
        )
        return
    sb = b.get("sandbox") or {}
    typer.echo(f"run {rec.id}  #{rec.seq}  {b.get('kind')}  {b.get('time')}  user {b.get('user')}")
    if b.get("session_id"):
        typer.echo(f"session {b['session_id']}  turn {b.get('turn')}  attempt {b.get('attempt')}")
    typer.echo(f"model {b.get('model') or '-'}")
    typer.echo(
        f"backend {sb.get('backend', b.get('backend'))}  image {sb.get('image')}  id {sb.get('image_id')}  runtime {sb.get('runtime')}  network {b.get('network')}"
    )
    typer.echo("limits " + ", ".join(f"{k}={v}" for k, v in (b.get("limits") or {}).items()))
    typer.echo(
        f"exit {b.get('exit_code')}  termination {b.get('termination')}  duration {b.get('duration_s')} s"
    )
    if b.get("problem"):
        typer.echo("problem: " + clean_line(b["problem"], 500))
    for label in ("prompt", "script", "response"):
        typer.echo(f"--- {label} ---\n{_text(b.get(label))}")
    for label in ("stdout", "stderr"):
        s = b.get(label) or {}
        typer.echo(f"--- {label} ({s.get('dropped', 0)} bytes dropped) ---\n{_text(s.get('text'))}")
    typer.echo("--- inputs ---")
    for f in b.get("inputs") or []:
        typer.echo(f"{clean_line(f['name'], 60):<30} {f['bytes']:>10,} B  {f['sha256']}")
    typer.echo("--- outputs ---")
    for f in b.get("outputs") or []:
        typer.echo(
            f"{clean_line(f['name'], 60):<30} {f['bytes']:>10,} B  {f['type']:<28} {f['sha256']}"
        )
    typer.echo(f"--- record hash {rec.hash} (previous {rec.prev_hash[:16]}…)")


@runs_app.command("replay")
def runs_replay(
    ref: Annotated[str, typer.Argument(help="Run id or unique prefix.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the replay's files.")
    ] = Path("replay"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Re-run a recorded script with its recorded inputs in a fresh sandbox; compare hashes."""
    from promptkiln.making.sessions import replay

    result = replay(ref, out, _settings(), progress=progress_printer(quiet or json_))
    if json_:
        typer.echo(
            json.dumps(
                {
                    "run": result.record.id,
                    "matches": result.matches,
                    "notes": result.notes,
                    "exit_code": result.run.result.exit_code,
                    "outputs": [
                        {"name": c.name, "status": c.status, "detail": c.detail}
                        for c in result.comparisons
                    ],
                },
                indent=2,
            )
        )
    else:
        for note in result.notes:
            say(note)
        for c in result.comparisons:
            typer.echo(f"{clean_line(c.name, 60):<30} {c.status:<14} {c.detail}")
        typer.echo("all outputs match" if result.matches else "outputs differ")
    if not result.matches:
        raise typer.Exit(1)


@runs_app.command("verify")
def runs_verify() -> None:
    """Recompute the hash chain of the run records; name the first one that was tampered with."""
    settings = _settings()
    started = time.monotonic()
    with _store(settings) as store:
        report = store.verify()
    if report.ok:
        typer.echo(
            f"ok: {report.checked} record(s), chain intact ({time.monotonic() - started:.2f} s)"
        )
        return
    typer.echo(
        f"TAMPERED: record #{report.first_bad_seq}"
        + (f" ({report.first_bad_id})" if report.first_bad_id else "")
        + f": {report.reason}"
    )
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add ``continue``, ``sessions`` and ``runs`` to the promptkiln app."""
    app.command("continue")(continue_)
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(runs_app, name="runs")
