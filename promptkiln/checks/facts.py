"""Read what a delivered file says: its text, pages, slides, sheets, formulas, pixel size.

The requirement checks (:mod:`promptkiln.checks.requirements`) judge these facts; this module only
reads them. Files come from an untrusted script, so reading happens in a short-lived child
(``python -I`` on this file) under the same limits as :mod:`promptkiln.checks.validate`, whose zip-bomb
and size guards it reuses, and only after the file passed validation.

    file_facts(path, kind) -> {"kind": "pdf", "pages": 3, "text": "...", "images": 1}

Like validate.py, it imports only the standard library at the top.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Characters of text kept per file (enough for any title or label check).
MAX_TEXT_CHARS = 200_000
#: Cells read per sheet.
MAX_CELLS = 20_000


def file_facts(path: Path, kind: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
    """Facts about one file, read in a bounded child; ``{}`` when they could not be read."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", __file__, str(path), kind],
            capture_output=True,
            timeout=timeout_s,
            check=False,
            env=_env(),
        )
        value = json.loads(done.stdout) if done.returncode == 0 else {}
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME")}


# -- readers (run in the child) -----------------------------------------------------------------


def _cap(parts: list[str]) -> str:
    return "\n".join(parts)[:MAX_TEXT_CHARS]


def _pdf(path: Path) -> dict[str, Any]:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    reader = PdfReader(str(path), strict=False)
    texts: list[str] = []
    images = 0
    for page in reader.pages[:200]:
        texts.append(page.extract_text() or "")
        with contextlib.suppress(Exception):
            images += len(page.images)
    return {"pages": len(reader.pages), "text": _cap(texts), "images": images}


def _zip_names(path: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def _sheet_views(path: Path) -> dict[str, bool]:
    """Whether some sheet has frozen panes, and an auto-filter (its own, or an Excel table's),
    read from the sheets' XML (openpyxl's read-only mode does not give them)."""
    import zipfile

    frozen = filtered = False
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            if name.startswith("xl/tables/") and name.endswith(".xml"):
                filtered = True
            if not (name.startswith("xl/worksheets/sheet") and name.endswith(".xml")):
                continue
            if info.file_size > 50 * 2**20:
                continue
            xml = zf.read(name)
            frozen = frozen or re.search(rb'<(?:\w+:)?pane\b[^>]*state="frozen', xml) is not None
            filtered = filtered or re.search(rb"<(?:\w+:)?autoFilter\b", xml) is not None
    return {"frozen": frozen, "autofilter": filtered}


#: Table rows kept per file (the content checks look for a group's label and value in one).
MAX_ROWS = 2000


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _formula_results(path: Path) -> dict[tuple[str, str], Any]:
    """Each formula cell's value, computed by our evaluator (openpyxl keeps no results)."""
    from openpyxl import load_workbook

    here = Path(__file__).resolve().parent
    for d in (here, here / "checks"):
        if (d / "formula.py").exists():
            sys.path.insert(0, str(d))
    import formula  # type: ignore[import-not-found]

    wb = load_workbook(str(path), data_only=False)
    try:
        return dict(formula.evaluate_workbook(wb))
    finally:
        wb.close()


def _xlsx_rows(path: Path, rows: list[tuple[str, list[Any]]]) -> list[list[str]]:
    """The worksheets' rows, a formula shown as its computed value when it has one."""
    results: dict[tuple[str, str], Any] = {}
    if any(isinstance(v, str) and v.startswith("=") for _, row in rows for v in row):
        with contextlib.suppress(Exception):
            results = _formula_results(path)
    from openpyxl.utils import get_column_letter

    out: list[list[str]] = []
    numbers: dict[str, int] = {}
    for sheet, row in rows:
        n = numbers[sheet] = numbers.get(sheet, 0) + 1
        cells = []
        for c, v in enumerate(row, start=1):
            if isinstance(v, str) and v.startswith("="):
                v = results.get((sheet, f"{get_column_letter(c)}{n}"), v)
            cells.append(_cell(v))
        out.append(cells)
    return out


def _xlsx(path: Path) -> dict[str, Any]:
    from openpyxl import load_workbook

    wb = load_workbook(str(path), read_only=True, data_only=False)
    sheets = []
    texts: list[str] = []
    kept: list[tuple[str, list[Any]]] = []
    try:
        for ws in wb.worksheets:
            formulas: list[str] = []
            formats: set[str] = set()  # the number formats of cells that hold a number
            rows = 0
            cells = 0
            for cell_row in ws.iter_rows():
                if cells > MAX_CELLS:
                    break
                row = [getattr(c, "value", None) for c in cell_row]
                if any(v is not None for v in row):
                    rows += 1
                if len(kept) < MAX_ROWS:
                    kept.append((ws.title, row))
                for cell, value in zip(cell_row, row, strict=True):
                    cells += 1
                    if isinstance(value, str) and value.startswith("="):
                        formulas.append(value[:200])
                    elif value is not None:
                        texts.append(str(value))
                    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
                        isinstance(value, str) and value.startswith("=")
                    ):
                        fmt = getattr(cell, "number_format", None)
                        if fmt and len(formats) < 50:
                            formats.add(str(fmt)[:60])
            sheets.append({"name": ws.title, "rows": rows, "formulas": formulas[:200],
                           "number_formats": sorted(formats)})  # fmt: skip
    finally:
        wb.close()
    names = _zip_names(path)
    charts = sum(1 for n in names if n.startswith("xl/charts/chart"))
    rows_out = _xlsx_rows(path, kept)
    return {"sheets": sheets, "text": _cap(texts), "charts": charts, "rows": rows_out,
            **_sheet_views(path)}  # fmt: skip


def _docx(path: Path) -> dict[str, Any]:
    import docx

    doc = docx.Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    headings = sum(
        1 for p in doc.paragraphs if p.style is not None and "Heading" in (p.style.name or "")
    )
    bullets = sum(
        1 for p in doc.paragraphs if p.style is not None and "List" in (p.style.name or "")
    )
    heading_lines = [p.text for p in doc.paragraphs if _heading_like(p)][:MAX_ROWS]
    rows: list[list[str]] = []
    for table in doc.tables:
        for row in table.rows:
            cells = [cell.text for cell in row.cells]
            texts.extend(cells)
            if len(rows) < MAX_ROWS:
                rows.append(cells)
    images = sum(1 for n in _zip_names(path) if n.startswith("word/media/"))
    return {
        "text": _cap(texts),
        "tables": len(doc.tables),
        "headings": headings,
        "heading_lines": heading_lines,
        "bullets": bullets,
        "images": images,
        "rows": rows,
    }


def _heading_like(paragraph: Any) -> bool:
    """A heading: Heading or Title style, all runs bold, or a short line of its own."""
    text = paragraph.text.strip()
    if not text:
        return False
    style = (paragraph.style.name or "") if paragraph.style is not None else ""
    if "Heading" in style or style == "Title":
        return True
    runs = [r for r in paragraph.runs if r.text.strip()]
    if runs and all(r.bold for r in runs):
        return True
    return len(text) <= 60 and not text.endswith((".", "!", "?"))


def _pptx(path: Path) -> dict[str, Any]:
    from pptx import Presentation

    prs = Presentation(str(path))
    texts: list[str] = []
    notes = charts = tables = pictures = 0
    rows: list[list[str]] = []
    native: list[dict[str, Any]] = []
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
            if getattr(shape, "has_chart", False) and shape.has_chart:
                charts += 1
                try:
                    title = shape.chart.chart_title
                    if title.has_text_frame:
                        texts.append(title.text_frame.text)
                except Exception:
                    pass
                with contextlib.suppress(Exception):
                    native.append(_native_chart(shape.chart))
            if getattr(shape, "has_table", False) and shape.has_table:
                tables += 1
                for row in shape.table.rows:
                    cells = [cell.text for cell in row.cells]
                    texts.extend(cells)
                    if len(rows) < MAX_ROWS:
                        rows.append(cells)
            if shape.shape_type == 13:  # MSO_SHAPE_TYPE.PICTURE
                pictures += 1
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            notes += 1
    return {
        "slides": len(prs.slides),
        "text": _cap(texts),
        "notes": notes,
        "charts": charts,
        "tables": tables,
        "pictures": pictures,
        "rows": rows,
        "native_charts": native[:20],
    }


def _native_chart(chart: Any) -> dict[str, Any]:
    """A native (python-pptx) chart's type, title and series: what it shows, as data."""
    title = ""
    with contextlib.suppress(Exception):
        if chart.has_title and chart.chart_title.has_text_frame:
            title = chart.chart_title.text_frame.text
    series = []
    for plot in list(chart.plots)[:8]:
        categories = [str(c) for c in list(plot.categories)[:500]]
        for s in list(plot.series)[:50]:
            values = [float(v) if isinstance(v, int | float) else None for v in s.values][:500]
            series.append({"name": str(s.name or ""), "categories": categories, "values": values})
    kind = getattr(chart.chart_type, "name", str(chart.chart_type))
    return {"kind": str(kind), "title": title, "series": series}


def _image(path: Path) -> dict[str, Any]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 64_000_000
    with Image.open(path) as img:
        width, height = img.size
    return {"width": width, "height": height}


def _svg(path: Path) -> dict[str, Any]:
    import re
    import xml.etree.ElementTree as ET

    data = path.read_bytes()[: 64 * 2**20]
    if b"<!ENTITY" in data:
        return {}
    root = ET.fromstring(data)
    texts = [t for el in root.iter() if el.tag.endswith("text") for t in el.itertext()]
    out: dict[str, Any] = {"text": _cap(texts), "has_text": bool(texts)}
    for key in ("width", "height"):
        m = re.fullmatch(r"\s*([\d.]+)\s*(px)?\s*", root.get(key, ""))
        if m:
            out[key] = round(float(m.group(1)))
    return out


def _csv(path: Path) -> dict[str, Any]:
    import csv
    import io

    text = path.read_bytes()[: 64 * 2**20].decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    return {
        "header": rows[0][:100] if rows else [],
        "rows": max(0, len(rows) - 1),
        "text": text[:MAX_TEXT_CHARS],
    }


def _plain(path: Path) -> dict[str, Any]:
    return {"text": path.read_bytes()[:MAX_TEXT_CHARS].decode("utf-8-sig", errors="replace")}


_READERS = {
    "pdf": _pdf,
    "xlsx": _xlsx,
    "docx": _docx,
    "pptx": _pptx,
    "png": _image,
    "jpg": _image,
    "gif": _image,
    "webp": _image,
    "svg": _svg,
    "csv": _csv,
    "json": _plain,
    "md": _plain,
    "txt": _plain,
    "html": _plain,
}


def read_facts(path: Path, kind: str) -> dict[str, Any]:
    """In this process: the facts of ``path`` read as ``kind``; ``{}`` for unknown kinds."""
    reader = _READERS.get(kind)
    if reader is None:
        return {}
    if kind in ("xlsx", "docx", "pptx"):
        sys.path.insert(0, str(Path(__file__).parent))
        import file_checks  # type: ignore[import-not-found]  # the validator's zip-bomb guard

        if file_checks.check_zip(path):
            return {}
    facts = reader(path)
    return {**facts, "kind": kind} if facts else {}


def _worker(argv: list[str]) -> int:
    path, kind = Path(argv[0]), argv[1]
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))
        resource.setrlimit(resource.RLIMIT_CPU, (31, 31))
    except (ImportError, ValueError, OSError):
        pass
    try:
        facts = read_facts(path, kind)
    except Exception:
        facts = {}
    sys.stdout.write(json.dumps(facts))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
