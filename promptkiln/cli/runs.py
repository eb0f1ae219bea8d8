"""The ``runs …`` commands, the audit trail: list, show, replay and verify the chained run records;
:func:`register` adds them to the app. Ids are accepted as unique prefixes, like git."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkiln.cli.common import JsonOpt, load_cli_settings, open_cli_store, progress_printer, when
from promptkiln.cli.render import clean_line, clean_text, say

runs_app = typer.Typer(
    help="The audit trail: every run, newest first.", invoke_without_command=True
)


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many.")] = 30,
    json_: JsonOpt = False,
) -> None:
    """Every run, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_cli_settings()
    with open_cli_store(settings) as store:
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
            f"{r.id:<15}  {when(r.created):<16}  {r.kind:<8}  {(r.session_id or '')[:12]:<12}  "
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
    settings = load_cli_settings()
    with open_cli_store(settings) as store:
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
    from promptkiln.making.replay import replay

    result = replay(ref, out, load_cli_settings(), progress=progress_printer(quiet or json_))
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
    settings = load_cli_settings()
    started = time.monotonic()
    with open_cli_store(settings) as store:
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
    """Add ``runs`` to the promptkiln app."""
    app.add_typer(runs_app, name="runs")
