"""``--live`` for ``make`` and ``run``: the script's stdout and stderr on the terminal while it
runs (see :mod:`promptkiln.sandbox.live`). Lines go to stderr, as progress does (stdout stays
clean for ``--json``), with control and bidi characters made visible; the log cap bounds them
as it bounds the captured output. Vendor engines run their code in the vendor's cloud: no live
output there."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from promptkiln.cli.render import clean_text
from promptkiln.sandbox.live import LiveSandbox, OutputEmit

LiveOpt = Annotated[
    bool,
    typer.Option(
        "--live",
        help="Show the script's stdout and stderr while it runs (local sandbox runs only).",
    ),
]


def print_live(stream: str, text: str) -> None:
    """One piece of live output, made safe, on stderr."""
    sys.stderr.write(clean_text(text))
    sys.stderr.flush()


def live_factory(base: Any = None, emit: OutputEmit = print_live) -> Any:
    """A sandbox factory whose sandboxes show their runs' output as it comes."""

    def factory(settings: Any, run_id: str) -> LiveSandbox:
        if base is not None:
            inner = base(settings, run_id)
        else:
            from promptkiln.sandbox.registry import create_sandbox

            inner = create_sandbox(settings.backend, settings, run_id)
        return LiveSandbox(inner, emit)

    return factory


__all__ = ["LiveOpt", "live_factory", "print_live"]
