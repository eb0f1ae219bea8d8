"""Checkers judge what a reader sees, on real files: each fix from the baseline review passes a
correct file written the way scripts commonly write it, and still fails the wrong one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

QUALITY = Path(__file__).resolve().parents[3] / "benchmarks" / "quality"
sys.path.insert(0, str(QUALITY))

import run as eval_run  # noqa: E402
from checks import has_number, has_text, svg_text  # noqa: E402
from formula import evaluate_workbook  # noqa: E402
from inputs import table  # noqa: E402

TASKS = {t.id: t for t in eval_run.all_tasks()}


def _dirs(tmp_path: Path, *names: str) -> list[Path]:
    made = [tmp_path / n for n in names]
    for d in made:
        d.mkdir()
    return made


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def test_a_number_is_not_found_inside_a_larger_one() -> None:
    assert has_number("Total $120.00", 20.00, 2)
    assert has_number("1,020.00", 20.00, 2)
    assert has_number("20.005", 20.00, 2)
    assert not has_number("Widget 2 x $10.00 = $20.00", 20.00, 2)
    assert not has_number("Grand total: 1,234.50\n", 1234.5, 2)
    assert not has_number("(20.00)", 20.00, 2)


def test_text_survives_an_extractor_that_drops_spaces() -> None:
    assert not has_text("SalesSummary\nNorth", "Sales Summary")
    assert has_text("Sales Report", "Sales Summary")


def _invoice(path: Path, lines: list[list[str]]) -> None:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    doc = SimpleDocTemplate(str(path))
    doc.build([Paragraph("Invoice for ACME Corp", getSampleStyleSheet()["Title"]), Table(lines)])


def test_invoice_total_must_be_each_number_not_a_substring_of_another(tmp_path: Path) -> None:
    good, bad = _dirs(tmp_path, "good", "bad")
    rows = [
        ["Item", "Qty", "Price", "Total"],
        ["Widget", "2", "$10.00", "$20.00"],
        ["Gadget", "1", "$25.50", "$25.50"],
        ["Service", "3", "$40.00", "$120.00"],
        ["", "", "Grand total", "$165.50"],
    ]
    _invoice(good / "invoice.pdf", rows)
    assert TASKS["pdf_invoice"].check(good) == []
    rows[1][3] = "$2.00"  # the Widget line total is wrong; 20.00 only appears inside 120.00
    _invoice(bad / "invoice.pdf", rows)
    assert TASKS["pdf_invoice"].check(bad) == ["number 20.00 not found"]


def _visitors_book(path: Path, column_format: bool, bold: bool) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    header = wb.add_format({"bold": True}) if bold else None
    ws.write_row(0, 0, ["month", "visitors"], header)
    for i, row in enumerate(table("monthly.csv"), 1):
        ws.write_row(i, 0, [row["month"], int(row["visitors"])])
    if column_format:
        ws.set_column(1, 1, 12, wb.add_format({"num_format": "#,##0"}))
    wb.close()


def test_a_column_format_set_with_xlsxwriter_reaches_the_cells(tmp_path: Path) -> None:
    """xlsxwriter (and pandas' to_excel through it) writes set_column's format onto each cell,
    which is what Excel shows: the checker reads cell formats and must accept this."""
    good, bad = _dirs(tmp_path, "good", "bad")
    _visitors_book(good / "v.xlsx", column_format=True, bold=True)
    assert TASKS["xlsx_number_format"].check(good) == []
    _visitors_book(bad / "v.xlsx", column_format=False, bold=False)
    assert TASKS["xlsx_number_format"].check(bad) == [
        "no thousands-separator format",
        "the header row is not bold",
    ]


def _docx(path: Path, paragraphs: list[tuple[str, str | None]]) -> None:
    import docx

    doc = docx.Document()
    for text, style in paragraphs:
        p = doc.add_paragraph(text, style=style)
        if style is None and text == "Project Plan":
            p.runs[0].bold = True
    doc.save(str(path))


def test_a_title_line_at_the_top_counts_as_the_title(tmp_path: Path) -> None:
    good, bad = _dirs(tmp_path, "good", "bad")
    body = [(h, "Heading 1") for h in ("Goals", "Timeline", "Risks")]
    _docx(good / "plan.docx", [("Project Plan", None), *body])
    assert TASKS["docx_headings"].check(good) == []
    _docx(bad / "plan.docx", [("Introduction", None), *body, ("Project Plan", None)])
    assert TASKS["docx_headings"].check(bad) == ["no heading 'Project Plan'"]
    prose = "Project Plan: this note covers our goals, the timeline and the risks."
    (tmp_path / "prose").mkdir()
    _docx(tmp_path / "prose" / "plan.docx", [(prose, None), ("More text.", None)])
    assert TASKS["docx_headings"].check(tmp_path / "prose") == [
        "no heading 'Goals'",
        "no heading 'Timeline'",
        "no heading 'Risks'",
    ]


def test_bullets_typed_as_glyphs_or_numbered_directly_count(tmp_path: Path) -> None:
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    glyphs, numbered, plain = _dirs(tmp_path, "glyphs", "numbered", "plain")
    _docx(glyphs / "n.docx", [(f"• action {i}", None) for i in range(4)])
    doc = docx.Document()
    for i in range(4):
        p = doc.add_paragraph(f"action {i}")
        num_pr = OxmlElement("w:numPr")
        for tag, val in (("w:ilvl", "0"), ("w:numId", "1")):
            el = OxmlElement(tag)
            el.set(qn("w:val"), val)
            num_pr.append(el)
        p._p.get_or_add_pPr().append(num_pr)
    doc.save(str(numbered / "n.docx"))
    _docx(plain / "n.docx", [(f"action {i}", None) for i in range(4)])
    assert TASKS["docx_bullets"].check(glyphs) == []
    assert TASKS["docx_bullets"].check(numbered) == []
    assert TASKS["docx_bullets"].check(plain) == ["0 bulleted items, not 4"]


def _shares_book(path: Path, formula: str, percent: bool) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["region", "revenue", "share"])
    for i, row in enumerate(table("region_revenue.csv"), 2):
        ws.append([row["region"], int(row["revenue"]), formula.format(i=i)])
        if percent:
            ws[f"C{i}"].number_format = "0.0%"
    wb.save(path)


def test_shares_over_a_whole_column_are_evaluated(tmp_path: Path) -> None:
    good, typed, bad = _dirs(tmp_path, "good", "typed", "bad")
    _shares_book(good / "s.xlsx", "=B{i}/SUM(B:B)", percent=True)
    assert TASKS["xlsx_percent_share"].check(good) == []
    _shares_book(bad / "s.xlsx", "=B{i}/SUM(B2:B3)", percent=True)
    assert TASKS["xlsx_percent_share"].check(bad)
    _shares_book(typed / "s.xlsx", "=B{i}/SUM($B:$B)", percent=False)
    assert TASKS["xlsx_percent_share"].check(typed) == ["no percentage format"]


def test_sumif_countif_averageif_and_whole_columns() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    data = wb.active
    data.title = "Data"
    for row in (["region", "amount"], ["North", 10], ["South", 20], ["north", 30.5], ["East", 200]):
        data.append(row)
    s = wb.create_sheet("My Sum")
    s["A1"] = "North"
    s["B1"] = "=SUMIF(Data!A:A,A1,Data!$B:$B)"
    s["B2"] = '=COUNTIF(Data!B2:B5,">15")'
    s["B3"] = '=AVERAGEIF(Data!A2:A5,"<>East",Data!B2:B5)'
    s["B4"] = "=SUM(Data!B:B)"
    s["B5"] = '=SUMIF(Data!A:A,"West",Data!B:B)'
    values = evaluate_workbook(wb)
    assert values[("My Sum", "B1")] == 40.5
    assert values[("My Sum", "B2")] == 3.0
    assert abs(values[("My Sum", "B3")] - 60.5 / 3) < 1e-9
    assert values[("My Sum", "B4")] == 260.5
    assert values[("My Sum", "B5")] == 0.0


def test_svg_text_unescapes_entities_and_reads_titles(tmp_path: Path) -> None:
    path = tmp_path / "c.svg"
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><title>R&amp;D spend</title>'
        "<text>Q1 &lt; Q2</text></svg>"
    )
    text = svg_text(path)
    assert "R&D spend" in text and "Q1 < Q2" in text


def _scatter(path: Path, xlabel: str, ylabel: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots()
    ax.scatter([1, 2, 3], [2, 4, 5])
    ax.plot([1, 3], [2, 5])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.savefig(path)
    plt.close(fig)


def test_scatter_axis_labels_are_whole_labels_not_letters(tmp_path: Path) -> None:
    good, bad = _dirs(tmp_path, "good", "bad")
    _scatter(good / "s.svg", "x", "y")
    assert TASKS["chart_scatter_svg"].check(good) == []
    _scatter(bad / "s.svg", "Index", "Yield")  # contains the letters, not the labels
    assert TASKS["chart_scatter_svg"].check(bad) == ["no axis label 'x'", "no axis label 'y'"]


def test_csv_totals_are_read_as_a_reader_reads_them(tmp_path: Path) -> None:
    from tasks_pdf import sales_totals

    totals = sales_totals()
    good, bad = _dirs(tmp_path, "good", "bad")
    lines = ["region,count,total"] + [f'{r},3,"${t:,.2f}"' for r, t in totals.items()]
    (good / "t.csv").write_text("\n".join(lines) + "\n")
    assert TASKS["csv_groupby"].check(good) == []
    lines = ["region,total"] + [f"{r},{t + 5:.2f}" for r, t in totals.items()]
    (bad / "t.csv").write_text("\n".join(lines) + "\n")
    assert len(TASKS["csv_groupby"].check(bad)) == len(totals)


def test_dates_in_the_forms_people_write_them() -> None:
    from checks import has_date

    for text in (
        "Meeting on 12 March 2025.",
        "on March 12, 2025",
        "Wednesday, 12th March 2025",
        "Mar. 12th 2025",
        "Date: 2025-03-12",
        "12/03/2025",
    ):
        assert has_date(text, 12, 3, 2025) == [], text
    for text in ("on 12 March 2024", "13 March 2025", "March 2025", "2025-12-03"):
        assert has_date(text, 12, 3, 2025) == ["the date 12 March 2025 is not there"], text
    assert has_date("closed on December 24th and 31 Dec.", 24, 12) == []
    assert has_date("closed on December 24th and 31 Dec.", 31, 12) == []
    assert has_date("closed on 25 December", 24, 12)


def test_the_memo_accepts_month_first_dates(tmp_path: Path) -> None:
    good, bad = _dirs(tmp_path, "good", "bad")
    text = "To: All Staff. From: HR. The office is closed on December 24 and December 31."
    _docx(good / "memo.docx", [(text, None)])
    assert TASKS["docx_memo"].check(good) == []
    _docx(bad / "memo.docx", [(text.replace("December 31", "January 2"), None)])
    assert TASKS["docx_memo"].check(bad) == ["the date 31 December is not there"]


def _region_deck(path: Path, with_titles: bool) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    for row in table("sales_by_region.csv"):
        slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank: no title placeholder
        box = slide.shapes.add_textbox(Inches(1), Inches(0.5), Inches(8), Inches(1))
        box.text_frame.text = row["region"] if with_titles else "Revenue"
        body = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(3))
        body.text_frame.text = ", ".join(f"{k}: {v}" for k, v in row.items() if k != "region")
    prs.save(str(path))


def test_a_text_box_at_the_top_of_a_blank_slide_is_its_title(tmp_path: Path) -> None:
    good, bad = _dirs(tmp_path, "good", "bad")
    _region_deck(good / "d.pptx", with_titles=True)
    assert TASKS["pptx_slide_per_region"].check(good) == []
    _region_deck(bad / "d.pptx", with_titles=False)
    assert len(TASKS["pptx_slide_per_region"].check(bad)) == len(table("sales_by_region.csv"))


def _products_book(path: Path, pane: str | None) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    rows = table("products.csv")
    ws.append(list(rows[0]))
    for row in rows:
        ws.append(list(row.values()))
    ws.freeze_panes = pane
    ws.auto_filter.ref = ws.dimensions
    wb.save(path)


def test_a_header_frozen_together_with_the_first_column_is_frozen(tmp_path: Path) -> None:
    for pane, ok in (("A2", True), ("B2", True), ("A3", False), (None, False)):
        d = tmp_path / str(pane)
        d.mkdir()
        _products_book(d / "p.xlsx", pane)
        assert (TASKS["xlsx_frozen_filter"].check(d) == []) is ok, pane
