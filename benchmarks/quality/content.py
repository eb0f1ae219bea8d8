"""Is the expected content in the file? Every format read as lines a reader sees.

A PDF's text lines; a Word document's paragraphs and table rows; a deck's text, table rows and
native charts' data; a workbook's rows with formulas evaluated; CSV rows; JSON records. A label
and its value must stand on the same line (the same table row), and an expected order is the
order of those lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from checks import docx_info, files, json_load, pdf_info, pptx_info, xlsx_book

_NUMBER = re.compile(r"(?<![\w.,])([-−])?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?)(?!\w)")
PLACEHOLDERS = {
    "title", "chart title", "your title", "label", "labels", "xlabel", "ylabel", "x label",
    "y label", "x-axis label", "y-axis label", "series 1", "category", "placeholder",
    "lorem ipsum", "title here", "my chart", "document title", "heading",
}  # fmt: skip


def numbers(text: str) -> list[tuple[float, int]]:
    """(value, decimals written) of each number in ``text``: 1,234.50 -> (1234.5, 2)."""
    found = []
    for m in _NUMBER.finditer(text.replace("\u00a0", " ")):
        value = float(m.group(2).replace(",", ""))
        found.append((-value if m.group(1) else value, len(m.group(3) or "")))
    return found


def default_tol(want: float) -> float:
    """How coarsely a number may be written: whole numbers from 100, one decimal from 1."""
    a = abs(want)
    return 0.5 if a >= 100 else 0.05 if a >= 1 else 0.005


def shows(value: float, decimals: int, want: float, tol: float | None = None) -> bool:
    """A number written with ``decimals`` shows ``want``: it is ``want`` rounded to at least
    the precision ``tol`` asks for (3.71 shows 3.714; 4 does not)."""
    if abs(value - want) <= 1e-9 * max(1.0, abs(want)):
        return True  # exactly it (a count written as 20)
    tol = default_tol(want) if tol is None else tol
    step = 0.5 * 10**-decimals
    if step > tol + 1e-12:
        return False
    return bool(abs(value - want) <= step + 1e-9 + abs(want) * 1e-9)


def has_value(text: str, want: float, tol: float | None = None) -> bool:
    return any(shows(v, d, want, tol) for v, d in numbers(text))


def label_re(label: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(label.casefold())}(?![\w])")


def find_row(
    lines: list[str], labels: Iterable[str], want: float | None, tol: float | None = None
) -> int | None:
    """Index of the first line holding one of ``labels`` and (if given) a number showing
    ``want`` once the label is taken out."""
    pats = [label_re(x) for x in labels]
    for i, line in enumerate(lines):
        low = line.casefold()
        for pat in pats:
            if pat.search(low) and (want is None or has_value(pat.sub(" ", low), want, tol)):
                return i
    return None


def labeled_values(
    lines: list[str],
    expected: dict[str, float],
    order: list[str] | None = None,
    tol: float | None = None,
    aliases: dict[str, list[str]] | None = None,
    what: str = "",
) -> list[str]:
    """Each label on a line with its expected value; with ``order``, those lines in that order."""
    aliases = aliases or {}
    problems, where = [], {}
    for label, want in expected.items():
        i = find_row(lines, [label, *aliases.get(label, [])], want, tol)
        if i is None:
            shown = find_row(lines, [label, *aliases.get(label, [])], None)
            seen = "" if shown is None else f" (its line: {lines[shown].strip()[:80]!r})"
            problems.append(f"{what}{label}: {fmt(want)} not shown next to it{seen}")
        else:
            where[label] = i
    if order and not problems:
        got = sorted((k for k in order if k in where), key=lambda k: where[k])
        if got != [k for k in order if k in where]:
            problems.append(f"{what}order is {got}, expected {order}")
    return problems


def row_has_all(
    lines: list[str],
    labels: list[str],
    wants: list[float],
    tol: float | None = None,
    what: str = "",
) -> list[str]:
    """A line holding one of ``labels`` and every one of ``wants`` (a table row of several
    numbers)."""
    for pat in [label_re(x) for x in labels]:
        for line in lines:
            low = line.casefold()
            if pat.search(low):
                rest = pat.sub(" ", low)
                if all(has_value(rest, w, tol) for w in wants):
                    return []
    return [f"{what}no row of {labels[0]} showing {', '.join(fmt(w) for w in wants)}"]


def labels_in_order(lines: list[str], order: list[str], what: str = "") -> list[str]:
    where = {k: find_row(lines, [k], None) for k in order}
    missing = [k for k, i in where.items() if i is None]
    if missing:
        return [f"{what}{', '.join(missing)} not found"]
    got = sorted(order, key=lambda k: where[k] or 0)
    return [] if got == order else [f"{what}order is {got}, expected {order}"]


def fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def placeholder(text: str) -> bool:
    return " ".join(text.split()).strip(" :").casefold() in PLACEHOLDERS


# -- every format as lines -----------------------------------------------------------------------


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def lines_of(path: Path) -> list[str]:
    ext = path.suffix.lower().lstrip(".")
    if ext == "pdf":
        return pdf_rows(path)
    if ext == "docx":
        info = docx_info(path)
        table_rows = [" | ".join(row) for t in info["tables"] for row in t]
        under, heading = [], ""
        for style, text in info["paras"]:
            if style.startswith(("Heading", "Title")):
                heading = text.strip()
            elif heading and text.strip():
                under.append(f"{heading} | {text}")  # a value under its heading
        return [t for _, t in info["paras"]] + table_rows + under
    if ext == "pptx":
        return [line for s in pptx_info(path)["slides"] for line in slide_lines(s)]
    if ext == "xlsx":
        return [line for rows in sheet_rows(path).values() for line in rows]
    if ext == "csv":
        import csv
        import io

        text = path.read_text(encoding="utf-8-sig", errors="replace")
        return [" | ".join(row) for row in csv.reader(io.StringIO(text))]
    if ext == "json":
        return json_lines(json_load(path))
    if ext == "parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(path).to_pylist()
        return [" | ".join(_cell(v) for v in row.values()) for row in t]
    if ext in ("md", "txt", "html"):
        return path.read_text(errors="replace").splitlines()
    return []


def pdf_rows(path: Path) -> list[str]:
    """A PDF's lines as laid out on the page (a table's cells on one line); the plain text when
    the layout cannot be read."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        pages = PdfReader(str(path)).pages
        return [x for p in pages for x in p.extract_text(extraction_mode="layout").splitlines()]
    except Exception:  # a page the layout mode cannot read: the plain text
        return pdf_info(path)[1].splitlines()


def slide_lines(slide: dict[str, Any]) -> list[str]:
    """A slide's lines, each body line led by the slide's title ("Q1 | Total: 1,247,000")."""
    title = slide["title"].strip()
    out = [title] + [
        f"{title} | {x}" if title and x.strip() != title else x for x in slide["text"].splitlines()
    ]
    out += [" | ".join(row) for t in slide["tables"] for row in t]
    for chart in slide["charts"]:
        for i, cat in enumerate(chart["categories"]):
            out.append(" | ".join([cat, *(_cell(s[i]) for s in chart["values"] if i < len(s))]))
    return out


def sheet_rows(path: Path) -> dict[str, list[str]]:
    """Each sheet's rows as lines, formula cells replaced by their evaluated values."""
    wb, values = xlsx_book(path)
    out: dict[str, list[str]] = {}
    for ws in wb.worksheets:
        lines = []
        for row in ws.iter_rows():
            cells = []
            for c in row:
                v = c.value
                if isinstance(v, str) and v.startswith("="):
                    v = values.get((ws.title, c.coordinate))
                cells.append(_cell(v))
            if any(cells):
                lines.append(" | ".join(cells))
        out[ws.title] = lines
    return out


def json_lines(data: Any, path: str = "") -> list[str]:
    """A list of records: a line each; a mapping of scalars: "key | value" lines; nested: both."""
    if isinstance(data, list):
        if all(not isinstance(x, (dict, list)) for x in data):
            return [f"{path} | " + " | ".join(_cell(x) for x in data)]
        return [line for x in data for line in json_lines(x, path)]
    if isinstance(data, dict):
        scalars = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
        out = []
        record = path or any(isinstance(v, str) for v in scalars.values())
        if scalars and record:  # a record: its fields on one line; a {label: number} map: not
            out.append(" | ".join([path] + [f"{k} | {_cell(v)}" for k, v in scalars.items()]))
        out += [f"{path} {k} | {_cell(v)}".strip() for k, v in scalars.items()]
        for k, v in data.items():
            if isinstance(v, (dict, list)):
                out += json_lines(v, k)
        return out
    return [_cell(data)]


def doc_lines(out: Path, ext: str) -> tuple[list[str], list[str]]:
    """(lines of the first .ext file, problems): a missing file is the problem."""
    found = files(out, ext)
    if not found:
        return [], [f"no .{ext} file"]
    return lines_of(found[0]), []
