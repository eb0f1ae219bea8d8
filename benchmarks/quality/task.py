"""One evaluation task: a realistic request, its inputs, and a checker that judges the files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: out directory -> problems (empty: the task passed)
Check = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Step:
    prompt: str
    formats: tuple[str, ...]
    check: Check


@dataclass(frozen=True)
class Task:
    id: str
    category: str
    prompt: str
    formats: tuple[str, ...]
    check: Check
    inputs: tuple[str, ...] = ()
    #: A follow-up turn in the same session (two-step edits), judged on its own output.
    then: Step | None = None
    #: A known-good script (for the checker's own test: a checker must be passable).
    solution: str | None = field(default=None, repr=False)
    #: "dev" (iterate on it) or "holdout" (run only to report); set by run.all_tasks.
    split: str = "dev"


def task(
    id: str,
    category: str,
    prompt: str,
    formats: str,
    check: Check,
    inputs: tuple[str, ...] = (),
    then: Step | None = None,
    solution: str | None = None,
) -> Task:
    return Task(id, category, prompt, tuple(formats.split()), check, inputs, then, solution)
