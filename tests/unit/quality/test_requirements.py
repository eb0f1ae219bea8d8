"""Every requirement rule: what it reads from a prompt, and how it judges real files.

Files are made here with the real libraries and read by the real facts child
(:func:`promptkiln.checks.facts.file_facts`), so a rule is tested end to end without a sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkiln.checks.facts import file_facts
from promptkiln.checks.requirements import Requirement, check, feedback, parse


def kinds(reqs: list[Requirement]) -> list[tuple[str, dict[str, Any]]]:
    return [(r.kind, dict(r.params)) for r in reqs]


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "formats", "expected"),
    [
        ("A bar chart, 800x600 pixels", ["png"], [("size", {"width": 800, "height": 600})]),
        ("chart at 1200 × 400 px", ["svg"], [("size", {"width": 1200, "height": 400})]),
        ("a plot 1000 px wide", ["png"], [("size", {"width": 1000})]),
        ("a plot 300 pixels tall", ["png"], [("size", {"height": 300})]),
        ("a 3-page PDF report", ["pdf"], [("pages", {"n": 3, "op": "=="})]),
        ("a one-page summary", ["pdf"], [("pages", {"n": 1, "op": "=="})]),
        ("at least 5 pages long", ["pdf"], [("pages", {"n": 5, "op": ">="})]),
        ("a deck with 4 slides", ["pptx"], [("slides", {"n": 4, "op": "=="})]),
        ("save it as summary.csv", ["csv"], [("file", {"name": "summary.csv"})]),
        ('a workbook with a sheet named "Totals"', ["xlsx"], [("sheet", {"name": "Totals"})]),
        ('a PDF titled "Q1 Sales Review"', ["pdf"], [("text", {"text": "Q1 Sales Review"})]),
        ("a doc headed “Board Minutes”", ["docx"], [("text", {"text": "Board Minutes"})]),
        ("a total row with a SUM formula", ["xlsx"], [("formula", {"functions": ["SUM"]})]),
        ("use formulas for the totals", ["xlsx"], [("formula", {"functions": []})]),
        ("an xlsx with a chart of revenue", ["xlsx"], [("chart", {"format": "xlsx"})]),
        ("a deck with speaker notes", ["pptx"], [("notes", {})]),
        ("a memo with a table of costs", ["docx"], [("table", {"format": "docx"})]),
        ("a report with a picture of the trend", ["docx"], [("image", {"format": "docx"})]),
    ],
)
def test_parse_rules(prompt: str, formats: list[str], expected: list[Any]) -> None:
    assert kinds(parse(prompt, formats)) == expected


def test_parse_says_nothing_it_cannot_check() -> None:
    # text inside a PNG cannot be read; a size for a PDF is not a pixel size
    assert parse('a chart titled "Revenue"', ["png"]) == []
    assert parse("a 3-page PDF", ["png"]) == []
    assert parse("a nice chart of sales", ["png"]) == []
    # an input file's name is not an output file name
    assert parse("summarise sales.csv", ["pdf"], {"sales.csv": b"a\n1\n"}) == []


def test_one_row_per_x_counts_the_input_column() -> None:
    data = b"region,month,revenue\nNorth,1,10\nSouth,1,12\nNorth,2,11\nWest,2,9\n"
    reqs = parse("a CSV with one row per region", ["csv"], {"sales.csv": data})
    assert kinds(reqs) == [("rows", {"n": 3})]
    assert parse("one row per planet", ["csv"], {"sales.csv": data}) == []


def test_one_bullet_or_slide_per_x_counts_the_input_column() -> None:
    data = b"region,month,revenue\nNorth,1,10\nSouth,1,12\nNorth,2,11\nWest,2,9\n"
    inputs = {"sales.csv": data}
    bullets = parse("a Word summary with one bullet per region and its revenue", ["docx"], inputs)
    named = {"values": ["North", "South", "West"]}
    assert kinds(bullets) == [("named_each", {**named, "format": "docx"}), ("bullets", {"n": 3})]
    slides = parse("a deck with a slide for each region", ["pptx"], inputs)
    assert kinds(slides) == [  # a title slide may come first
        ("named_each", {**named, "format": "pptx"}),
        ("slides", {"n": 3, "op": ">="}),
    ]
    four = {"d.pptx": {"kind": "pptx", "slides": 4, "text": "Regions\nNorth\nSouth\nWest"},
            "w.docx": {"kind": "docx", "bullets": 2, "text": "Northern sales, South, West"}}  # fmt: skip
    outcomes = check(slides + bullets, four)
    assert [o.met for o in outcomes] == [True, True, False, False]
    assert outcomes[2].detail == "North not named in it"  # "Northern" is another word
    assert parse("one bullet per planet", ["docx"], inputs) == []


# -- checking real files ----------------------------------------------------------------------


def facts_of(*paths: Path) -> dict[str, dict[str, Any]]:
    from promptkiln.checks.validate import normalize

    return {p.name: file_facts(p, normalize(p.suffix)) for p in paths}


def met(prompt: str, formats: list[str], *paths: Path, inputs: Any = None) -> list[bool]:
    return [o.met for o in check(parse(prompt, formats, inputs), facts_of(*paths))]


def pdf(path: Path, pages: int, title: str) -> Path:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph(title, styles["Title"])]
    for i in range(pages - 1):
        story += [PageBreak(), Paragraph(f"page {i + 2}", styles["Normal"])]
    SimpleDocTemplate(str(path)).build(story)
    return path


def test_pdf_pages_and_title(tmp_path: Path) -> None:
    two = pdf(tmp_path / "r.pdf", 2, "Q1 Sales Review")
    assert met('a 2-page PDF titled "Q1 Sales Review"', ["pdf"], two) == [True, True]
    assert met('a 3-page PDF titled "Q2 Sales Review"', ["pdf"], two) == [False, False]
    outcomes = check(parse("a 3-page PDF", ["pdf"]), facts_of(two))
    [line] = feedback(outcomes)
    assert line.startswith("the prompt asks that pdf has 3 pages, but r.pdf has 2 pages (")
    assert "for 3 pages put 2 PageBreak() into the story" in line


def test_png_size(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (800, 600)).save(tmp_path / "c.png")
    Image.new("RGB", (640, 480)).save(tmp_path / "d.png")
    assert met("800x600 px chart", ["png"], tmp_path / "c.png") == [True]
    assert met("800x600 px chart", ["png"], tmp_path / "d.png") == [False]
    assert met("a chart 800 px wide", ["png"], tmp_path / "c.png") == [True]


def test_svg_size_and_text(tmp_path: Path) -> None:
    svg = tmp_path / "p.svg"
    svg.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">'
        "<text>Monthly Visitors</text></svg>"
    )
    assert met('a 400x300 px SVG titled "Monthly Visitors"', ["svg"], svg) == [True, True]
    assert met('an SVG titled "Yearly Visitors"', ["svg"], svg) == [False]
    paths_only = tmp_path / "q.svg"  # matplotlib's default: text drawn as paths, not readable
    paths_only.write_text('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0"/></svg>')
    assert met('an SVG titled "Yearly Visitors"', ["svg"], paths_only) == [True]


def test_xlsx_sheets_formulas_chart(tmp_path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.title = "Totals"
    ws.append(["Region", "Revenue"])
    ws.append(["North", 10])
    ws.append(["South", 12])
    ws.append(["Total", "=SUM(B2:B3)"])
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=3), titles_from_data=True)
    ws.add_chart(chart, "D2")
    wb.save(tmp_path / "good.xlsx")
    plain = Workbook()
    plain.active.title = "Data"
    plain.active.append(["Total", 22])
    plain.save(tmp_path / "plain.xlsx")
    prompt = 'an xlsx with a sheet named "Totals", a SUM formula and a chart'
    assert met(prompt, ["xlsx"], tmp_path / "good.xlsx") == [True, True, True]
    assert met(prompt, ["xlsx"], tmp_path / "plain.xlsx") == [False, False, False]
    assert met("use AVERAGE formulas", ["xlsx"], tmp_path / "good.xlsx") == [False]


def test_pptx_slides_notes_chart_table(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    for i in range(3):
        slide = prs.slides.add_slide(prs.slide_layouts[5])
        slide.shapes.title.text = f"Slide {i}"
        slide.notes_slide.notes_text_frame.text = "say this"
    data = CategoryChartData()
    data.categories = ["a", "b"]
    data.add_series("s", (1, 2))
    prs.slides[0].shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1), Inches(4), Inches(3), data
    )
    prs.slides[1].shapes.add_table(2, 2, Inches(1), Inches(1), Inches(4), Inches(2))
    prs.save(tmp_path / "d.pptx")
    prompt = "a 3-slide deck with a chart, a table and speaker notes"
    assert met(prompt, ["pptx"], tmp_path / "d.pptx") == [True, True, True, True]
    assert met("a 4-slide deck", ["pptx"], tmp_path / "d.pptx") == [False]
    bare = Presentation()
    bare.slides.add_slide(bare.slide_layouts[6])
    bare.save(tmp_path / "e.pptx")
    assert met(prompt, ["pptx"], tmp_path / "e.pptx") == [False, False, False, False]


def test_docx_table_picture_text(tmp_path: Path) -> None:
    import docx
    from PIL import Image

    Image.new("RGB", (40, 30)).save(tmp_path / "p.png")
    d = docx.Document()
    d.add_heading("Board Minutes", 0)
    d.add_table(rows=2, cols=2).cell(0, 0).text = "cost"
    d.add_picture(str(tmp_path / "p.png"))
    d.save(tmp_path / "m.docx")
    prompt = 'a memo titled "Board Minutes" with a table and a picture'
    assert met(prompt, ["docx"], tmp_path / "m.docx") == [True, True, True]
    empty = docx.Document()
    empty.add_paragraph("hello")
    empty.save(tmp_path / "n.docx")
    assert met(prompt, ["docx"], tmp_path / "n.docx") == [False, False, False]


def test_csv_rows_and_file_name(tmp_path: Path) -> None:
    data = b"region,revenue\nNorth,1\nSouth,2\nWest,3\nNorth,4\n"
    (tmp_path / "summary.csv").write_text("region,total\nNorth,5\nSouth,2\nWest,3\n")
    (tmp_path / "other.csv").write_text("region,total\nNorth,5\n")
    prompt = "save as summary.csv with one row per region"
    inputs = {"sales.csv": data}
    assert met(prompt, ["csv"], tmp_path / "summary.csv", inputs=inputs) == [True, True]
    assert met(prompt, ["csv"], tmp_path / "other.csv", inputs=inputs) == [False, False]


def test_hostile_files_give_no_facts(tmp_path: Path) -> None:
    bomb = tmp_path / "b.svg"
    bomb.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><svg><text>&a;</text></svg>')
    assert file_facts(bomb, "svg") == {}
    junk = tmp_path / "j.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really")
    assert file_facts(junk, "xlsx") == {}


@pytest.mark.parametrize(
    ("prompt", "formats", "needle"),
    [
        ("a 3-page PDF", ["pdf"], "2 PageBreak()"),
        ("a one-page PDF summary", ["pdf"], "one page: no PageBreak()"),
        ("a deck of 5 slides", ["pptx"], "add_slide(...) once per slide: 5 times"),
        ("a chart, 1200x600 pixels", ["png"], "figsize=(12, 6)"),
        ("a 600 px wide chart", ["png"], "dpi=100"),
        ('a PDF titled "Q2 Review"', ["pdf"], "write exactly 'Q2 Review'"),
        ('a workbook with a sheet named "Totals"', ["xlsx"], "wb.create_sheet('Totals')"),
        ("a workbook with a SUM formula for the total", ["xlsx"], '"=SUM(B2:B7)"'),
        ("a deck with speaker notes", ["pptx"], "notes_text_frame"),
        ("save it as summary.csv", ["csv"], "'summary.csv'"),
    ],
)
def test_every_unmet_requirement_says_how_to_meet_it(
    prompt: str, formats: list[str], needle: str
) -> None:
    from promptkiln.checks.requirements import how_to_meet

    reqs = parse(prompt, formats)
    assert reqs, prompt
    assert any(needle in how_to_meet(r) for r in reqs), [how_to_meet(r) for r in reqs]


def test_a_quoted_name_that_is_a_sheet_counts_as_text_of_the_workbook() -> None:
    reqs = [Requirement("text", 'the text "Summary" appears', {"text": "Summary"})]
    facts = {"r.xlsx": {"kind": "xlsx", "text": "region revenue", "sheets": [{"name": "Summary"}]}}
    assert [o.met for o in check(reqs, facts)] == [True]
    facts["r.xlsx"]["sheets"] = [{"name": "Data"}]
    assert [o.met for o in check(reqs, facts)] == [False]


def test_notes_on_every_slide_means_every_slide() -> None:
    reqs = parse("A 2-slide deck with speaker notes on every slide", ["pptx"])
    notes = [r for r in reqs if r.kind == "notes"]
    assert notes and notes[0].params == {"every": True}
    one = {"d.pptx": {"kind": "pptx", "slides": 2, "notes": 1, "text": ""}}
    [outcome] = [o for o in check(notes, one)]
    assert not outcome.met and "1 of 2 slides" in outcome.detail
    one["d.pptx"]["notes"] = 2
    assert check(notes, one)[0].met
    assert parse("a deck with speaker notes", ["pptx"])[-1].params == {}


@pytest.mark.parametrize(
    ("fmt", "call"),
    [
        ("pdf", 'story.append(Paragraph("Jane \\"JD\\" Doe", styles["Normal"]))'),
        ("docx", 'doc.add_paragraph("Jane \\"JD\\" Doe")'),
        ("pptx", 'body.add_paragraph().text = "Jane \\"JD\\" Doe"'),
    ],
)
def test_missing_text_comes_back_with_the_line_that_writes_it(fmt: str, call: str) -> None:
    [req] = [r for r in parse("a letter from 'Jane \"JD\" Doe'", [fmt]) if r.kind == "text"]
    [line] = feedback(check([req], {f"a.{fmt}": {"kind": fmt, "text": "Dear Name"}}), [fmt])
    assert f"the words themselves, not a variable: e.g. {call})" in line
    # with no format to name a call for, the advice stays general
    [plain] = feedback(check([req], {f"a.{fmt}": {"kind": fmt, "text": ""}}))
    assert "e.g. as its title or a heading" in plain


@pytest.mark.parametrize(
    ("prompt", "fmt", "call"),
    [
        ("a Word document with a table of the regions", "docx", "doc.add_table(rows=1"),
        ("slides with a table of the regions", "pptx", "slide.shapes.add_table("),
        ("a workbook with a bar chart of revenue", "xlsx", "ws.add_chart(chart"),
        ("a deck with a chart of revenue", "pptx", "slide.shapes.add_chart("),
        ("a Word report with a chart of revenue", "docx", "doc.add_picture(buf"),
    ],
)
def test_a_missing_table_chart_or_picture_comes_back_with_the_call(
    prompt: str, fmt: str, call: str
) -> None:
    reqs = [r for r in parse(prompt, [fmt]) if r.kind in ("table", "chart", "image")]
    facts = {f"a.{fmt}": {"kind": fmt, "text": "", "tables": 0, "charts": 0, "images": 0}}
    lines = feedback(check(reqs, facts), [fmt])
    assert lines and all(line.count("(") >= 1 for line in lines)
    assert any(call in line for line in lines), lines


@pytest.mark.parametrize(
    ("prompt", "fmt"),
    [
        ("A deck with one slide per region in the CSV", "pptx"),
        ("a presentation with one slide for each product", "pptx"),
        ("a PDF with one page per month", "pdf"),
        ("a PDF with a page for every region", "pdf"),
    ],
)
def test_one_slide_or_page_per_item_is_not_a_count_of_the_whole_file(prompt: str, fmt: str) -> None:
    # the bundled model met "one slide per region", then was told the deck must have 1 slide
    assert not [r for r in parse(prompt, [fmt]) if r.kind in ("slides", "pages")]
