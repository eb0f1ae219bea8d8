"""PDF documents: one page, many pages, tables, an embedded chart, computed numbers."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import judge as j
from checks import has_date, has_number, has_text, need, pdf_info
from inputs import table
from task import task


def _pdf(out: Path) -> tuple[tuple[int, str, int] | None, list[str]]:
    path, problems = need(out, "pdf")
    return (None, problems) if path is None else (pdf_info(path), [])


def _pages(info: tuple[int, str, int], n: int) -> list[str]:
    return [] if info[0] == n else [f"the PDF has {info[0]} pages, not {n}"]


def sales_totals() -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in table("sales.csv"):
        totals[row["region"]] += float(row["revenue"])
    return dict(totals)


def summary(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    totals = sales_totals()
    best = max(totals, key=lambda r: totals[r])
    return (
        _pages(info, 1)
        + has_text(info[1], "Sales Summary", best)
        + has_number(info[1], sum(totals.values()), 2 if sum(totals.values()) % 1 else 0)
        + j.values("pdf", sales_totals)(out)
    )


def quarters() -> dict[str, list[float]]:
    """Each region's q1..q4 of sales_by_region.csv."""
    return {
        r["region"]: [float(r[q]) for q in ("q1", "q2", "q3", "q4")]
        for r in table("sales_by_region.csv")
    }


def region_table(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    return has_text(info[1], "Region") + j.rows_with("pdf", quarters)(out)


def three_pages(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    return _pages(info, 3) + has_text(info[1], "Renewable Energy Outlook", "solar", "wind")


def embedded_chart(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    return has_text(info[1], "Monthly Visitors") + ([] if info[2] else ["no image in the PDF"])


def invoice(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    text = info[1]
    return has_text(text, "ACME Corp") + [
        p for v in (20.00, 25.50, 120.00, 165.50) for p in has_number(text, v, 2)
    ]


def letter(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    date = has_date(info[1], 12, 3, 2025)
    return _pages(info, 1) + has_text(info[1], "Jane Doe", "John Smith") + date


def five_sections(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    return _pages(info, 5) + has_text(info[1], *(f"Section {i}" for i in range(1, 6)))


def stats_table(out: Path) -> list[str]:
    info, problems = _pdf(out)
    if info is None:
        return problems
    scores = [float(r["score"]) for r in table("scores.csv")]
    return has_number(info[1], len(scores)) + [
        p
        for v in (statistics.mean(scores), min(scores), max(scores))
        for p in has_number(info[1], round(v, 2), 2)
    ]


PDF_SOLUTION = """
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate
styles = getSampleStyleSheet()
story = []
for i in range(1, 6):
    story.append(Paragraph(f"Section {i}", styles["Heading1"]))
    story.append(Paragraph("Some text for this section.", styles["Normal"]))
    if i < 5:
        story.append(PageBreak())
SimpleDocTemplate("sections.pdf", pagesize=A4).build(story)
"""

TASKS = [
    task(
        "pdf_one_page_summary",
        "pdf",
        "One-page PDF summary of sales.csv titled 'Sales Summary': the total revenue, the "
        "revenue per region, and which region sold the most",
        "pdf",
        summary,
        ("sales.csv",),
    ),
    task(
        "pdf_region_table",
        "pdf",
        "PDF with a table of each region and its q1–q4 revenue from the CSV, with a bold "
        "header row (Region, Q1, Q2, Q3, Q4)",
        "pdf",
        region_table,
        ("sales_by_region.csv",),
    ),
    task(
        "pdf_three_pages",
        "pdf",
        "A 3-page PDF report: page 1 the title 'Renewable Energy Outlook' and an "
        "introduction, page 2 about solar power, page 3 about wind power",
        "pdf",
        three_pages,
    ),
    task(
        "pdf_embedded_chart",
        "pdf",
        "PDF report titled 'Monthly Visitors' with a line chart of the visitors in "
        "monthly.csv embedded in it and one sentence of commentary",
        "pdf",
        embedded_chart,
        ("monthly.csv",),
    ),
    task(
        "pdf_invoice",
        "pdf",
        "Invoice PDF for ACME Corp with 3 items: Widget 2 x $10.00, Gadget 1 x $25.50, "
        "Service 3 x $40.00; show each line total and the grand total, with 2 decimals",
        "pdf",
        invoice,
    ),
    task(
        "pdf_letter",
        "pdf",
        "A one-page formal letter as PDF from Jane Doe to John Smith confirming a meeting on "
        "12 March 2025",
        "pdf",
        letter,
    ),
    task(
        "pdf_five_sections",
        "pdf",
        "A 5-page PDF with one section per page, headed 'Section 1' to 'Section 5'",
        "pdf",
        five_sections,
        solution=PDF_SOLUTION,
    ),
    task(
        "pdf_stats_table",
        "pdf",
        "PDF with a table of the count, mean, min and max of the score column in scores.csv, "
        "numbers with 2 decimals",
        "pdf",
        stats_table,
        ("scores.csv",),
    ),
]
