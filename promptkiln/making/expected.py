"""Run the content checks' trusted script in a fresh sandbox: the expected numbers.

The script and the parsing of its answer live in :mod:`promptkiln.checks.content_expected`;
this is only the sandbox run (the checks room does not run sandboxes). The inputs are placed in
``./inputs/`` as for the model's script; nothing of the model's script takes part.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln.checks.content_expected import Expected, Spec, parse_answer, pending, script_for
from promptkiln.making.pipeline import Progress, SandboxFactory, run_in_sandbox

if TYPE_CHECKING:
    from promptkiln.config import Settings
    from promptkiln.sandbox.base import InputFile


def compute(
    specs: Sequence[Spec],
    inputs: Sequence[InputFile],
    settings: Settings,
    *,
    factory: SandboxFactory | None = None,
    progress: Progress | None = None,
    prompt: str = "",
) -> dict[str, Expected]:
    """Every spec's expected values: stated ones directly, the others from one run of the
    trusted script in a fresh sandbox. A spec the run did not answer gets an error (its check
    is then not made)."""
    out, todo = pending(specs)
    if not todo:
        return out
    if progress is not None:
        progress("computing the numbers the files must show, from the inputs (in the sandbox)")
    with tempfile.TemporaryDirectory(prefix="promptkiln-expected-") as tmp:
        run = run_in_sandbox(
            script_for(todo, prompt), inputs, Path(tmp) / "out", settings, factory=factory
        )
    answers = parse_answer(run.result.stdout.text)
    for s in todo:
        got = answers.get(s.id)
        out[s.id] = got if got is not None else Expected(error="could not be computed")
    return out
