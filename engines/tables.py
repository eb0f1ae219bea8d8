"""Gemini's structured-output pattern: a table as JSON against a schema, rendered by our code.

The model never writes the file; it answers ``{"name", "columns", "rows"}`` and this module
renders CSV, XLSX or JSON from it, so the file's bytes come from our own, reviewed code.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from promptkiln.errors import GenerationError, UsageError

TABLE_FORMATS = frozenset({"csv", "xlsx", "json"})

#: The response schema (OpenAPI subset, as Gemini takes it).
TABLE_SCHEMA: dict[str, Any] = {
    "type": "OBJECT",
    "properties": {
        "name": {"type": "STRING"},
        "columns": {"type": "ARRAY", "items": {"type": "STRING"}},
        "rows": {"type": "ARRAY", "items": {"type": "ARRAY", "items": {"type": "STRING"}}},
    },
    "required": ["name", "columns", "rows"],
}


def _cell(value: Any) -> Any:
    """Numbers stay numbers in XLSX and JSON; everything else is text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def check_table(table: Any) -> tuple[str, list[str], list[list[Any]]]:
    ok = (
        isinstance(table, dict)
        and isinstance(table.get("columns"), list)
        and isinstance(table.get("rows"), list)
        and all(isinstance(r, list) for r in table["rows"])
    )
    if not ok:
        raise GenerationError(
            "the structured answer does not match the table schema",
            hint="try again, or use another --engine",
        )
    name = str(table.get("name") or "table")
    return name, [str(c) for c in table["columns"]], [[_cell(v) for v in r] for r in table["rows"]]


def render_table(table: Any, fmt: str) -> tuple[str, bytes]:
    """``(file name, bytes)`` of ``table`` as ``fmt`` (csv, xlsx or json)."""
    name, columns, rows = check_table(table)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return f"{name}.csv", buf.getvalue().encode()
    if fmt == "json":
        records = [dict(zip(columns, r, strict=False)) for r in rows]
        return f"{name}.json", json.dumps(records, indent=2, ensure_ascii=False).encode()
    if fmt == "xlsx":
        try:
            from openpyxl import Workbook
        except ImportError as exc:
            raise UsageError(
                "rendering XLSX needs openpyxl", hint="pip install 'promptkiln[validate]'"
            ) from exc
        wb = Workbook()
        ws = wb.active
        ws.append(columns)
        for r in rows:
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        return f"{name}.xlsx", out.getvalue()
    raise UsageError(f"cannot render a table as {fmt}", hint="use csv, xlsx or json")
