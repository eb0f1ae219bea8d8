"""Does a table (in a PDF, DOCX, PPTX, XLSX, CSV or JSON file) show the numbers its data gives?

The facts reader (:mod:`promptkiln.facts`) gives each file's table rows (Word and PowerPoint
tables, worksheet rows, CSV rows) and its text; a PDF's lines and a JSON document's records are
turned into rows here. A group's value is shown when some row holds the group's label and, in
another cell (or elsewhere on the line), a number :func:`~promptkiln.checks.numeric.close` to
the expected one — "East | 3,400.00" and "East: 3400" both show East=3400.

    rows_of(facts)                                  -> [["Region", "Revenue"], ["East", "3,400"]]
    check_table(spec, expected, rows)               -> None, or what the file shows instead
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from promptkiln.checks.content_expected import Expected, Spec
from promptkiln.checks.numeric import close, fmt, norm_label, numbers_in, show

#: Rows looked at per file.
MAX_ROWS = 5000


def rows_of(facts: Mapping[str, Any]) -> list[list[str]]:
    """The rows a file shows: its tables' rows first, then its lines of text."""
    kind = facts.get("kind")
    text = str(facts.get("text") or "")
    rows: list[list[str]] = []
    if isinstance(facts.get("rows"), list):
        rows += [[str(c) for c in r] for r in facts["rows"] if isinstance(r, list)]
    if kind == "csv":
        rows += [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    elif kind == "json":
        rows += _json_rows(text)
    elif kind in ("pdf", "docx", "pptx", "md", "txt", "html"):
        rows += [[line] for line in text.splitlines() if line.strip()]
    return rows[:MAX_ROWS]


def _json_rows(text: str) -> list[list[str]]:
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) == 1:
            doc = lists[0]
        else:
            return [[str(k), _scalar(v)] for k, v in doc.items() if not isinstance(v, list | dict)]
    if isinstance(doc, list):
        out = []
        for item in doc[:MAX_ROWS]:
            if isinstance(item, dict):
                out.append([_scalar(v) for v in item.values()])
            elif isinstance(item, list):
                out.append([_scalar(v) for v in item])
        return out
    return []


def _scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def label_in(label: str, row: Sequence[str]) -> int | None:
    """Index of the cell that is ``label`` (or, for a line of text, holds it as a word)."""
    want = norm_label(label)
    for i, cell in enumerate(row):
        if norm_label(cell) == want:
            return i
    if len(row) == 1 and want:
        line = " ".join(str(row[0]).split()).lower()
        if re.search(r"(?<![\w])" + re.escape(want) + r"(?![\w])", line):
            return 0
    return None


def _numbers_besides(row: Sequence[str], index: int, label: str) -> list[float]:
    if len(row) == 1:
        line = " ".join(str(row[0]).split())
        rest = re.sub(re.escape(" ".join(label.split())), " ", line, count=1, flags=re.I)
        return numbers_in(rest)
    return [n for i, cell in enumerate(row) if i != index for n in numbers_in(str(cell))]


def _shows(shown: float, value: float, spec: Spec) -> bool:
    """``shown`` is ``value``; in a listing, a fraction may be shown as a percentage."""
    if close(shown, value):
        return True
    return spec.listing and abs(value) <= 1 and close(shown, value * 100)


def _listing(
    spec: Spec, expected: Expected, wrong: dict[str, float], bare: list[str]
) -> str | None:
    parts = []
    if wrong:
        parts.append(
            f"it shows {show(wrong)} (the input has {show({k: expected.values[k] for k in wrong})})"
        )
    if bare:
        parts.append(f"it shows {', '.join(bare[:6])} without its {spec.y}")
    return "; ".join(parts) or None


def check_table(spec: Spec, expected: Expected, rows: Sequence[Sequence[str]]) -> str | None:
    """None when every group's value is shown next to its label (and in order, if sorted);
    several aggregations per group each in the group's row; single figures anywhere."""
    if expected.error:
        return None
    if expected.series and not expected.values:
        problems = [
            f"{name}: {p}"
            for name, values in expected.series.items()
            if (p := check_table(spec, Expected(values=values, order=list(values)), rows))
        ]
        return "; ".join(problems[:3]) or None
    if not expected.values:
        return None
    if spec.x is None:
        seen = [n for row in rows for n in numbers_in(" ".join(str(c) for c in row))]
        absent = {k: v for k, v in expected.values.items() if not any(close(n, v) for n in seen)}
        return f"it does not show {show(absent)}" if absent else None
    wrong: dict[str, float] = {}
    missing: list[str] = []
    bare: list[str] = []  # shown with no number beside it
    where: dict[str, int] = {}
    for label, value in expected.values.items():
        first_seen: tuple[int, list[float]] | None = None
        found = False
        for r, row in enumerate(rows):
            i = label_in(label, row)
            if i is None:
                continue
            found = True
            nums = _numbers_besides(row, i, label)
            if any(_shows(n, value, spec) for n in nums):
                where[label] = r
                first_seen = None
                break
            if first_seen is None and nums:
                first_seen = (r, nums)
        if label in where:
            continue
        if first_seen is not None:
            wrong[label] = first_seen[1][0]
        else:
            (bare if found else missing).append(label)
    if spec.listing:  # a listing may leave rows out (filtered, the first N), never a value
        listed = _listing(spec, expected, wrong, bare)
        if listed is not None:
            return listed
        wrong, missing = {}, []
    missing += bare
    if (
        missing
        and not wrong
        and spec.sort != "none"
        and set(where) == set(expected.order[: len(where)])
    ):
        missing = []  # a sorted table of the first N groups ("the 5 highest")
    parts = []
    if wrong:
        parts.append(
            f"it shows {show(wrong)} (expected {show({k: expected.values[k] for k in wrong})})"
        )
    if missing:
        some = ", ".join(f"{k}={fmt(expected.values[k])}" for k in missing[:6])
        parts.append(f"it does not show {some}")
    if parts:
        return "; ".join(parts)
    if spec.sort in ("asc", "desc"):
        shown = sorted(where, key=lambda k: where[k])
        values = [expected.values[k] for k in shown]
        desc = spec.sort == "desc"
        pairs = pairwise(values)
        if not all((a >= b) if desc else (a <= b) for a, b in pairs):
            word = "highest first" if spec.sort == "desc" else "lowest first"
            return f"its rows are not sorted {word}: they go {', '.join(shown[:8])}"
    return None
