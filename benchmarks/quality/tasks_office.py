"""Word documents and PowerPoint decks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import judge as j
from checks import docx_info, docx_title, has_date, has_text, need, pptx_info
from inputs import REGIONS, table
from task import task
from tasks_pdf import quarters


def _docx(out: Path) -> tuple[dict[str, Any] | None, list[str]]:
    path, problems = need(out, "docx")
    return (None, problems) if path is None else (docx_info(path), [])


def _pptx(out: Path) -> tuple[dict[str, Any] | None, list[str]]:
    path, problems = need(out, "pptx")
    return (None, problems) if path is None else (pptx_info(path), [])


def headings(out: Path) -> list[str]:
    info, problems = _docx(out)
    if info is None:
        return problems
    heads = [t for style, t in info["paras"] if style.startswith(("Heading", "Title"))]
    first = docx_title(info["paras"])
    # the title may be a short line at the top styled by hand; the section headings may not
    titles = [*heads, first] if len(first) <= 80 else heads
    return [
        f"no heading {h!r}"
        for h, among in (
            ("Project Plan", titles),
            ("Goals", heads),
            ("Timeline", heads),
            ("Risks", heads),
        )
        if not any(h.lower() in x.lower() for x in among)
    ]


def docx_table(out: Path) -> list[str]:
    info, problems = _docx(out)
    if info is None:
        return problems
    if not info["tables"]:
        return ["no table"]
    return j.rows_with("docx", quarters)(out)


def bullets(out: Path) -> list[str]:
    info, problems = _docx(out)
    if info is None:
        return problems
    items = [t for style, t in info["paras"] if "List" in style and t.strip()]
    return [] if len(items) >= 4 else [f"{len(items)} bulleted items, not 4"]


def picture(out: Path) -> list[str]:
    info, problems = _docx(out)
    if info is None:
        return problems
    return has_text(info["text"], "Visitors") + ([] if info["images"] else ["no picture"])


def memo(out: Path) -> list[str]:
    info, problems = _docx(out)
    if info is None:
        return problems
    text = info["text"]
    return has_text(text, "All Staff", "HR") + has_date(text, 24, 12) + has_date(text, 31, 12)


def deck_titles(out: Path) -> list[str]:
    info, problems = _pptx(out)
    if info is None:
        return problems
    slides = info["slides"]
    if len(slides) != 3:
        return [f"{len(slides)} slides, not 3"]
    return has_text(info["text"], "Quarterly Review", "Highlights", "Next Steps")


def chart_slide(out: Path) -> list[str]:
    info, problems = _pptx(out)
    if info is None:
        return problems
    charts = [c for s in info["slides"] for c in s["charts"]]
    if not charts:
        return ["no native chart"]
    values = charts[0]["values"][0] if charts[0]["values"] else []
    want = [2.1, 2.8, 3.2, 3.9]
    ok = len(values) == 4 and all(
        abs(float(a) - b) < 0.01 for a, b in zip(values, want, strict=True)
    )
    return [] if ok else [f"chart values are {values}, not {want}"]


def notes(out: Path) -> list[str]:
    info, problems = _pptx(out)
    if info is None:
        return problems
    slides = info["slides"]
    missing = [i + 1 for i, s in enumerate(slides) if not s["notes"].strip()]
    return ([f"{len(slides)} slides, not 2"] if len(slides) != 2 else []) + (
        [f"slides without notes: {missing}"] if missing else []
    )


def table_slide(out: Path) -> list[str]:
    info, problems = _pptx(out)
    if info is None:
        return problems
    tables = [t for s in info["slides"] for t in s["tables"]]
    if not tables:
        return ["no table on any slide"]
    q1 = {r: v[0] for r, v in quarters().items()}
    return has_text(" ".join(c for t in tables for row in t for c in row), *REGIONS) + j.values(
        "pptx", lambda: q1
    )(out)


def slide_per_region(out: Path) -> list[str]:
    info, problems = _pptx(out)
    if info is None:
        return problems
    titles = [s["title"] for s in info["slides"]]
    regions = [r["region"] for r in table("sales_by_region.csv")]
    problems = [f"no slide titled {r!r}" for r in regions if not any(r in t for t in titles)]
    return problems or j.rows_with("pptx", quarters)(out)


DOCX_SOLUTION = """
import docx
d = docx.Document()
d.add_heading("Project Plan", 0)
for h in ("Goals", "Timeline", "Risks"):
    d.add_heading(h, 1)
    d.add_paragraph(f"Text about {h.lower()}.")
d.save("plan.docx")
"""
PPTX_SOLUTION = """
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches
prs = Presentation()
slide = prs.slides.add_slide(prs.slide_layouts[5])
slide.shapes.title.text = "Revenue by quarter"
data = CategoryChartData()
data.categories = ["Q1", "Q2", "Q3", "Q4"]
data.add_series("Revenue", (2.1, 2.8, 3.2, 3.9))
slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1.5), Inches(8), Inches(5), data)
prs.save("revenue.pptx")
"""

TASKS = [
    task(
        "docx_headings",
        "docx",
        "Word document titled 'Project Plan' with the headings 'Goals', 'Timeline' and "
        "'Risks', each followed by a short paragraph",
        "docx",
        headings,
        solution=DOCX_SOLUTION,
    ),
    task(
        "docx_table",
        "docx",
        "Word document with a table of each region and its q1–q4 revenue from the CSV",
        "docx",
        docx_table,
        ("sales_by_region.csv",),
    ),
    task(
        "docx_bullets",
        "docx",
        "Meeting notes as a Word document with a bulleted list of 4 action items",
        "docx",
        bullets,
    ),
    task(
        "docx_picture",
        "docx",
        "Word report with the heading 'Visitors', a short paragraph, and a line chart of "
        "monthly.csv inserted as a picture",
        "docx",
        picture,
        ("monthly.csv",),
    ),
    task(
        "docx_memo",
        "docx",
        "A memo as a Word document to All Staff from HR about the office being closed on "
        "24 December and 31 December",
        "docx",
        memo,
    ),
    task(
        "pptx_title_bullets",
        "pptx",
        "A 3-slide deck: a title slide 'Quarterly Review', then 'Highlights' with 3 bullets, "
        "then 'Next Steps' with 3 bullets",
        "pptx",
        deck_titles,
    ),
    task(
        "pptx_native_chart",
        "pptx",
        "A slide with a native column chart of revenue by quarter: Q1 2.1, Q2 2.8, Q3 3.2, Q4 3.9",
        "pptx",
        chart_slide,
        solution=PPTX_SOLUTION,
    ),
    task(
        "pptx_speaker_notes",
        "pptx",
        "A 2-slide presentation about our product launch, with speaker notes on every slide",
        "pptx",
        notes,
    ),
    task(
        "pptx_table",
        "pptx",
        "A slide with a table of each region and its q1 revenue from the CSV",
        "pptx",
        table_slide,
        ("sales_by_region.csv",),
    ),
    task(
        "pptx_slide_per_region",
        "pptx",
        "A deck with one slide per region in the CSV, each titled with the region name and "
        "listing its q1–q4 revenue",
        "pptx",
        slide_per_region,
        ("sales_by_region.csv",),
    ),
]
