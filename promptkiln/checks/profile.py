"""The inputs' profile: the trusted script that computes it, its output validated on the host,
the text the model reads.

``profile_script.py`` (package data) runs in a sandbox over ``./inputs/``
(:func:`promptkiln.making.profiling.profile_inputs`); :func:`parse` validates the one JSON line
it prints into :class:`~promptkiln.plan.Profile`. The host never parses an input file.
:func:`render_profile` is the compact text the model reads: one line per column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

from pydantic import ValidationError

from promptkiln.plan import ColumnProfile, InputProfile, Profile, TableProfile

if TYPE_CHECKING:
    from promptkiln.sandbox.base import InputFile

#: Bytes of the script's stdout accepted as a profile.
MAX_PROFILE_BYTES = 48_000
#: What the model is shown of one table: columns, and the first rows.
SHOWN_COLUMNS = 30
SHOWN_ROWS = 2
SHOWN_VALUES = 8

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def profile_script() -> bytes:
    """The trusted profiling script, as it is sent into the sandbox."""
    return resources.files("promptkiln.checks").joinpath("profile_script.py").read_bytes()


def parse(stdout: bytes) -> Profile | str:
    """The profile the script printed, or why it is not one."""
    if len(stdout) > MAX_PROFILE_BYTES:
        return f"the profile was larger than {MAX_PROFILE_BYTES} bytes"
    lines = stdout.decode("utf-8", errors="replace").strip().splitlines()
    try:
        return Profile.model_validate(json.loads(lines[-1] if lines else ""))
    except (ValueError, ValidationError) as exc:
        return f"the profiling script printed no valid profile ({str(exc).splitlines()[0][:120]})"


def failed(inputs: Sequence[InputFile], why: str) -> Profile:
    return Profile(
        inputs=[
            InputProfile(file=f.name, kind="other", error=f"not profiled: {why}") for f in inputs
        ]
    )


def _clean(text: str, limit: int = 80) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.0f}" if value == int(value) and abs(value) < 1e15 else f"{value:.4g}"


def _column(c: ColumnProfile) -> str:
    line = f"  {_clean(c.name)} ({c.dtype}"
    if c.dtype in ("number", "integer"):
        line += f" {_num(c.min)}..{_num(c.max)}, mean {_num(c.mean)}"
    elif c.dtype == "date":
        line += f" {c.first}..{c.last}"
    if c.values:
        items = list(c.values.items())
        shown = ", ".join(f"{_clean(k, 30)} {v}" for k, v in items[:SHOWN_VALUES])
        more = f", +{len(items) - SHOWN_VALUES} more" if len(items) > SHOWN_VALUES else ""
        line += f"; {len(items)} values: {shown}{more}"
    elif c.dtype == "text":
        line += f", {c.distinct} distinct"
    if c.nulls:
        line += f", {c.nulls} empty"
    return line + ")"


def _table(t: TableProfile) -> list[str]:
    lines = [f"- inputs/{_clean(t.name)}: {t.rows} rows, columns:"]
    lines += [_column(c) for c in t.columns[:SHOWN_COLUMNS]]
    if len(t.columns) > SHOWN_COLUMNS:
        lines.append(f"  … and {len(t.columns) - SHOWN_COLUMNS} more columns")
    for row in t.head[:SHOWN_ROWS]:
        lines.append("  row: " + " | ".join(_clean(v, 40) for v in row))
    return lines


def render_profile(profile: Profile | None, names: Sequence[str] = ()) -> str:
    """The inputs as the model reads them: tables column by column, other files in a line.

    ``names`` are the input files, listed plainly when there is no profile."""
    if profile is None:
        return "\n".join(f"- inputs/{_clean(n)}" for n in names) or "(none)"
    lines: list[str] = []
    for item in profile.inputs:
        if item.error:
            lines.append(f"- inputs/{_clean(item.file)}: could not be read ({_clean(item.error)})")
            continue
        if item.tables:
            if item.shape and item.kind == "json":
                lines.append(f"- inputs/{_clean(item.file)}: JSON {_clean(item.shape, 200)}")
            for t in item.tables:
                lines += _table(t)
        else:
            shape = f": {_clean(item.shape, 200)}" if item.shape else ""
            lines.append(f"- inputs/{_clean(item.file)} ({item.kind}){shape}")
    return "\n".join(lines) or "(none)"
