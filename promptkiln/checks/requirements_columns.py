"""A data file the request asks to keep the input's columns keeps them.

"Convert sales.csv to JSON", "the rows of the CSV with all its columns", "an Excel copy with
the same columns": the output (CSV, JSON records, a worksheet's header row) names every column
of the one input table. Read from the input CSV's header row; an output a reader here cannot
open (Parquet) is not judged.

    parse("convert sales.csv to JSON", ["json"], {"sales.csv": b"date,region\n..."})
    -> [Requirement("columns", "the json keeps the input's columns (date, region)", ...)]
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks.requirement import Outcome, Requirement

_ASKED = re.compile(
    r"\b(?:the )?same columns\b|\ball (?:the |its |of the )?columns\b|\bevery column\b"
    r"|\bkeep(?:ing|s)? (?:all|every) (?:the )?columns?\b|\bconvert\b"
)
_FORMATS = ("csv", "json", "xlsx")


def parse(lower: str, formats: Sequence[str], inputs: Mapping[str, bytes]) -> list[Requirement]:
    """The columns requirement, when the request asks a CSV input's columns kept."""
    tables = [n for n in inputs if n.lower().endswith(".csv")]
    wanted = [f for f in formats if f in _FORMATS]
    if len(tables) != 1 or len(inputs) != 1 or not wanted or not _ASKED.search(lower):
        return []
    head = inputs[tables[0]][: 2**16].decode("utf-8-sig", "replace")
    rows = list(csv.reader(io.StringIO(head)))
    columns = [c.strip() for c in rows[0] if c.strip()] if rows else []
    if not 0 < len(columns) <= 50:
        return []
    what = f"the {'/'.join(wanted)} keeps the input's columns ({', '.join(columns[:8])})"
    return [Requirement("columns", what, {"columns": columns, "formats": wanted})]


def _names(kind: str, facts: Mapping[str, Any]) -> list[set[str]]:
    """The column names a file shows: a CSV's header, a JSON document's first record's keys,
    each worksheet row (one of them is its header)."""
    if kind == "csv":
        return [{str(h).strip().lower() for h in facts.get("header") or []}]
    if kind == "xlsx":
        return [{str(c).strip().lower() for c in row} for row in (facts.get("rows") or [])[:50]]
    records = json_records(str(facts.get("text") or ""))
    first = records[0] if records else None
    return [{str(k).strip().lower() for k in first}] if isinstance(first, dict) else []


def json_records(text: str) -> list[Any] | None:
    """The records of a JSON document: a list as it is, an object's one list (``{"rows":
    [...]}``), or else the object itself; None for a scalar or text that is not JSON."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        doc = lists[0] if len(lists) == 1 else [doc]
    return doc if isinstance(doc, list) else None


def check(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome | None:
    """The outcome of a ``columns`` requirement; None for any other."""
    if req.kind != "columns":
        return None
    want = list(req.params["columns"])
    judged = [(n, f) for n, f in facts.items() if f.get("kind") in req.params["formats"]]
    for name, f in judged:
        shown = _names(str(f.get("kind")), f)
        best = max(shown, key=lambda s: sum(c.lower() in s for c in want), default=set())
        missing = [c for c in want if c.lower() not in best]
        if missing:
            return Outcome(req, False, f"{name} has no column {', '.join(missing[:6])}")
    return Outcome(req, True)
