"""A data file that lists input rows names the columns the plan lists.

A CSV, JSON or XLSX output planned as a listing of input rows ("the employees hired in 2020 or
later, with name, department and hire date") must have those input columns as its header or
keys. A file that holds something else — the plan itself dumped as JSON, a count per number —
fails, whatever its form. Matching is lenient on purpose: case, spaces and underscores do not
matter, and a header that holds the column's name as words ("Employee name") names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from promptkiln.checks.content import match_file
from promptkiln.checks.requirement import Outcome, Requirement
from promptkiln.checks.requirements_columns import json_records
from promptkiln.plan import Plan

_DATA_KINDS = ("csv", "json", "xlsx")


def _key(name: str) -> str:
    return " ".join(re.sub(r"[_\W]+", " ", name).split()).casefold()


def header_of(facts: Mapping[str, Any]) -> list[str] | None:
    """The column names a data file shows: a CSV's header (as its facts read it), the keys of
    a JSON file's records (or of its one object), a workbook's first row; None when it cannot
    be read."""
    kind = facts.get("kind")
    if kind == "csv":
        header = facts.get("header")
        return [str(c) for c in header] if header else None
    if kind == "xlsx":
        rows = facts.get("rows")
        return [str(c) for c in rows[0]] if isinstance(rows, list) and rows else None
    if kind != "json":
        return None
    records = json_records(str(facts.get("text") or ""))
    if records is None:
        return None
    return list({str(k): None for item in records[:200] if isinstance(item, dict) for k in item})


def _named(column: str, header: Sequence[str]) -> bool:
    want = _key(column)
    return any(
        _key(h) == want or re.search(rf"(?<!\w){re.escape(want)}(?!\w)", _key(h)) for h in header
    )


def listed_columns(
    plan: Plan | None, facts: Mapping[str, Mapping[str, Any]], known: Sequence[str]
) -> list[Outcome]:
    """An outcome per data file the plan lists input rows in: does it name those columns?"""
    if plan is None or not known:
        return []
    inputs = {_key(k): k for k in known}
    out: list[Outcome] = []
    for f in plan.files:
        name = match_file(f.name, list(facts))
        kind = PurePosixPath(f.name).suffix.lower().lstrip(".")
        if name is None or kind not in _DATA_KINDS:
            continue
        for t in f.tables:
            if t.group is not None or t.value is not None or t.agg != "none" or t.aggs:
                continue
            columns = [inputs[_key(c)] for c in t.columns if _key(c) in inputs]
            header = header_of(facts.get(name, {}))
            if not columns or header is None:
                continue
            missing = [c for c in columns if not _named(c, header)]
            req = Requirement(
                "content",
                f"{name} lists the rows with their {', '.join(columns)}",
                {"file": name, "check": "columns"},
            )
            shown = ", ".join(header[:8]) or "none"
            detail = f"it has no {', '.join(missing)} (its columns: {shown})" if missing else ""
            out.append(Outcome(req, not missing, detail))
    return out
