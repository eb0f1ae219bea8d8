"""What checkers judge with: a file's text, pages, pixels, cells and evaluated formulas.

Every helper returns a list of problems (empty: fine) so checkers compose with ``+``. Numbers are
looked for at the precision a person would write them (``1234567`` matches ``1,234,567``,
``1234567.00``, ``1.23M`` is NOT accepted unless ``loose`` is given).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from formula import evaluate_workbook


def files(out: Path, ext: str) -> list[Path]:
    return sorted(p for p in out.rglob(f"*.{ext}") if p.is_file())


def need(out: Path, ext: str, name: str | None = None) -> tuple[Path | None, list[str]]:
    """The file of type ``ext`` (named ``name`` when given), or a problem saying it is missing."""
    found = files(out, ext)
    if name:
        found = [p for p in found if p.name.lower() == name.lower()]
        if not found:
            return None, [f"no file named {name}"]
    if not found:
        return None, [f"no .{ext} file"]
    return found[0], []


def norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("’", "'").split()).casefold()


def has_text(text: str, *needles: str) -> list[str]:
    """Each needle, case and spacing ignored; a PDF extractor that drops or adds the spaces
    between words ("SalesSummary") still finds the words."""
    t = norm(text)
    squeezed = re.sub(r"\s+", "", t)
    return [
        f"text {n!r} not found"
        for n in needles
        if norm(n) not in t and re.sub(r"\s+", "", norm(n)) not in squeezed
    ]


_MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip


def has_date(text: str, day: int, month: int, year: int | None = None) -> list[str]:
    """A date as people write it: 12 March, 12th March, March 12th, Mar 12 (with the year when
    given: 12 March 2025, March 12, 2025, 2025-03-12, 12/03/2025, 03/12/2025, 12.03.2025)."""
    name = _MONTHS[month - 1]
    mon = rf"(?:{name}|{name[:3]}\.?)"
    d = rf"0?{day}(?:st|nd|rd|th)?"
    y = rf",?\s*{year}" if year else ""
    forms = [rf"\b{d}\s+(?:of\s+)?{mon}{y}", rf"\b{mon}\s+{d}{y}"]
    if year:
        forms += [
            rf"\b{year}-{month:02d}-{day:02d}\b",
            rf"\b0?{day}[/.]0?{month}[/.]{year}\b",
            rf"\b0?{month}/0?{day}/{year}\b",
        ]
    flat = norm(text)
    if any(re.search(f, flat) for f in forms):
        return []
    label = f"{day} {name.title()}" + (f" {year}" if year else "")
    return [f"the date {label} is not there"]


def number_forms(value: float, decimals: int = 0) -> set[str]:
    """Ways a person writes ``value``: 1234567 / 1,234,567 / 1 234 567, at ``decimals``."""
    forms = set()
    for d in {decimals, 2} if decimals == 0 else {decimals}:
        plain = f"{value:.{d}f}"
        forms |= {plain, f"{value:,.{d}f}", f"{value:,.{d}f}".replace(",", " ")}
        if d == 0 or float(plain) == int(float(plain)):
            forms.add(f"{value:,.0f}")
    return forms


def has_number(text: str, value: float, decimals: int = 0) -> list[str]:
    """``value`` written as a whole number: 20.00 is not found inside 120.00 or 1,020.00."""
    compact = text.replace("\u00a0", " ")
    for form in number_forms(value, decimals):
        if re.search(rf"(?<![\d.,]){re.escape(form)}(?![\d]|[.,]\d)", compact):
            return []
    return [f"number {value:,.{decimals}f} not found"]


# -- per format ---------------------------------------------------------------------------------


def pdf_info(path: Path) -> tuple[int, str, int]:
    """(pages, text, images) of a PDF."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    reader = PdfReader(str(path))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    images = 0
    for page in reader.pages:
        with contextlib.suppress(Exception):  # an unreadable image still counts as none
            images += len(page.images)
    return len(reader.pages), text, images


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def image_colors(path: Path) -> int:
    """Distinct colours (capped at 10_000): a blank image has 1."""
    from PIL import Image

    with Image.open(path) as img:
        colors = img.convert("RGB").getcolors(10_000)
    return 10_000 if colors is None else len(colors)


def size_is(path: Path, width: int, height: int, slack: int = 2) -> list[str]:
    w, h = image_size(path)
    if abs(w - width) > slack or abs(h - height) > slack:
        return [f"{path.name} is {w}x{h} px, not {width}x{height}"]
    return []


def svg_labels(path: Path) -> set[str]:
    """Each separate text item of an SVG (a label, a tick, a title), stripped."""
    data = path.read_text(errors="replace")
    items = re.findall(r"<!--(.*?)-->", data, re.S)
    items += [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>(.*?)</text>", data, re.S)]
    return {html.unescape(i).strip() for i in items if i.strip()}


def svg_text(path: Path) -> str:
    """Text of an SVG, including matplotlib's comments for text drawn as paths."""
    data = path.read_text(errors="replace")
    comments = " ".join(re.findall(r"<!--(.*?)-->", data, re.S))
    texts = " ".join(re.findall(r"<text[^>]*>(.*?)</text>", data, re.S))
    titles = " ".join(re.findall(r"<title[^>]*>(.*?)</title>", data, re.S))
    return html.unescape(re.sub(r"<[^>]+>", " ", f"{texts} {titles}") + " " + comments)


def docx_info(path: Path) -> dict[str, Any]:
    import docx

    doc = docx.Document(str(path))
    paras = [(_para_kind(p), p.text) for p in doc.paragraphs]
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    cells = [c for t in tables for row in t for c in row]
    return {
        "paras": paras,
        "tables": tables,
        "text": "\n".join([t for _, t in paras] + cells),
        "images": len(doc.inline_shapes),
    }


_BULLET_GLYPHS = ("•", "·", "▪", "◦", "‣", "- ", "* ", "– ")


def _para_kind(p: Any) -> str:
    """The paragraph's style name; a paragraph that Word shows as a list item (direct
    numbering, or a bullet glyph typed at its start) is reported as "List Paragraph" whatever
    its style, so checkers see the bullets a reader sees."""
    style = p.style.name if p.style is not None else ""
    if "List" in style:
        return style
    ppr = p._p.pPr
    if ppr is not None and ppr.numPr is not None:
        return "List Paragraph"
    if p.text.lstrip().startswith(_BULLET_GLYPHS):
        return "List Paragraph"
    return style


def docx_title(paras: list[tuple[str, str]]) -> str:
    """The document's first non-empty line: what a reader sees as its title."""
    return next((t for _, t in paras if t.strip()), "")


def pptx_info(path: Path) -> dict[str, Any]:
    from pptx import Presentation

    prs = Presentation(str(path))
    slides = []
    for slide in prs.slides:
        title = slide.shapes.title.text if slide.shapes.title is not None else ""
        texts, charts, tables = [], [], []
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
                if not title.strip() and shape.text_frame.text.strip():
                    # a slide built on the blank layout: its first text box is its title
                    title = shape.text_frame.text.strip().splitlines()[0]
            if getattr(shape, "has_chart", False) and shape.has_chart:
                plot = shape.chart.plots[0]
                charts.append(
                    {
                        "categories": [str(c) for c in plot.categories],
                        "values": [list(s.values) for s in plot.series],
                    }
                )
            if getattr(shape, "has_table", False) and shape.has_table:
                tables.append([[c.text for c in row.cells] for row in shape.table.rows])
        notes = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        slides.append(
            {
                "title": title,
                "text": "\n".join(texts),
                "charts": charts,
                "tables": tables,
                "notes": notes,
            }
        )
    return {"slides": slides, "text": "\n".join(s["text"] for s in slides)}


def xlsx_book(path: Path) -> tuple[Any, dict[tuple[str, str], Any]]:
    """(workbook with formulas, evaluated values by (sheet, "A1"))."""
    from openpyxl import load_workbook

    wb = load_workbook(str(path))
    return wb, evaluate_workbook(wb)


def formulas(wb: Any) -> list[tuple[str, str, str]]:
    """(sheet, cell, formula) of every formula cell."""
    out = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    out.append((ws.title, c.coordinate, c.value))
    return out


def close(a: Any, b: float, tol: float = 0.01) -> bool:
    try:
        return abs(float(a) - b) <= max(tol, abs(b) * 1e-6)
    except (TypeError, ValueError):
        return False


def any_value(values: Iterable[Any], want: float, tol: float = 0.01) -> bool:
    return any(close(v, want, tol) for v in values)


def csv_rows(path: Path) -> list[dict[str, str]]:
    import csv
    import io

    text = path.read_text(encoding="utf-8-sig", errors="replace")
    return [
        {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        for row in csv.DictReader(io.StringIO(text))
    ]


def json_load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8-sig"))
