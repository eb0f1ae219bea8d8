"""What the command groups share: the settings, the progress printer, the files' manifest and the
run record. Every module of :mod:`promptkiln.cli` may import this one; it imports none of them."""

from __future__ import annotations

import datetime
import time
from typing import Annotated, Any

import typer

from promptkiln.cli.render import clean_line, clean_text, say

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def load_cli_settings(**overrides: Any) -> Any:
    from promptkiln.config import load_settings

    return load_settings(**overrides)


def progress_printer(quiet: bool) -> Any:
    started = time.monotonic()

    def show(message: str) -> None:
        if not quiet:
            say(f"[{time.monotonic() - started:6.1f}s] {clean_line(message, 400)}")

    return show


def files_manifest(artifacts: list[Any], rejections: list[Any]) -> dict[str, Any]:
    return {
        "files": [
            {
                "name": a.name,
                "path": a.path,
                "bytes": a.size,
                "type": a.media_type,
                "sha256": a.sha256,
            }
            for a in artifacts
        ],
        "rejected": [{"name": r.name, "reason": r.reason} for r in rejections],
    }


def print_manifest(artifacts: list[Any], rejections: list[Any]) -> None:
    if artifacts:
        width = max(len(clean_line(a.name, 80)) for a in artifacts)
        for a in artifacts:
            typer.echo(
                f"{clean_line(a.name, 80):<{width}}  {a.size:>10,} B  {a.media_type:<28}  {a.sha256}"
            )
    for r in rejections:
        say(f"rejected {clean_line(r.name, 120)}: {clean_line(r.reason, 200)}")


def show_streams(result: Any, *, live: bool = False) -> None:
    """The script's output after the run (with ``--live`` it was shown already: only what
    the log cap cut off is said)."""
    for label, stream in (("stdout", result.stdout), ("stderr", result.stderr)):
        if stream.data:
            if not live:
                say(f"--- script {label} ---")
                say(clean_text(stream.text).rstrip("\n"))
            if stream.truncated:
                say(f"--- {label} truncated: {stream.dropped:,} more bytes not shown ---")


def record_run(settings: Any, kind: str, run: Any, **extra: Any) -> None:
    """Append the run to the audit trail (``promptkiln runs``)."""
    from promptkiln.records.records import record_sandbox_run

    record_sandbox_run(settings, kind, run, **extra)


def open_cli_store(settings: Any) -> Any:
    """The store the settings name (``with open_cli_store(settings) as store:``)."""
    from promptkiln.records.store import open_store

    return open_store(settings)


def when(ts: float) -> str:
    """A record's time as the lists show it: ``2026-12-07 07:40`` (local time)."""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
