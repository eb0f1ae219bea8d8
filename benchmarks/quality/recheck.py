"""Judge kept files again with the current checkers (``run.py --keep DIR`` then ``--recheck``).

A before/after comparison is only fair when both runs are judged by the same checkers; the
delivered files of a run kept with ``--keep`` can be re-judged after a checker changes, without
running the model again. A task whose pipeline delivered nothing keeps its original verdict.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from task import Task


def keep(workdir: Path, dest: Path) -> None:
    """Copy a task's delivered files (out1/, out2/, ...) and its attempts' scripts into ``dest``."""
    for out in [*sorted(workdir.glob("out*")), workdir / "scripts"]:
        if out.is_dir():
            shutil.copytree(out, dest / out.name, dirs_exist_ok=True)
        elif out.is_file():  # the chart facts of a step (out1.facts.json)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out, dest / out.name)


def rejudge(record: dict[str, Any], task: Task, kept: Path) -> dict[str, Any]:
    """The record with ``passed``/``problems`` from the current checkers, when every step's
    files were kept; otherwise unchanged (marked ``rechecked: False``)."""
    checks = [task.check] + ([task.then.check] if task.then is not None else [])
    problems: list[str] = []
    if record.get("outcome") in ("error", "crash"):
        return {**record, "rechecked": False}
    for number, check in enumerate(checks, 1):
        out = kept / task.id / f"out{number}"
        if not out.is_dir():
            return {**record, "rechecked": False}
        try:
            problems += [f"step {number}: {p}" for p in check(out)]
        except Exception as exc:  # a file the reader cannot parse is a failed task
            problems += [f"step {number}: the checker could not read the files: {exc}"]
    ok = record.get("outcome", "ok") == "ok"
    return {
        **record,
        "split": task.split,
        "right": not problems,
        "passed": ok and not problems,
        "problems": problems,
        "rechecked": True,
    }
