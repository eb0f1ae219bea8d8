"""Table content checks on real files made by the real libraries: a right file passes, a wrong
one (wrong aggregation, wrong sort, a missing group) fails with what it shows instead."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkiln.checks.content_docs import check_table, rows_of
from promptkiln.checks.content_expected import Expected, Spec
from promptkiln.checks.facts import file_facts
from promptkiln.checks.numeric import close, numbers_in

#: the sum of revenue per region of the input, highest first
SUMS = {"East": 3400.0, "North": 800.0, "West": 500.0}
MEANS = {"East": 1700.0, "North": 800.0, "West": 500.0}  # the wrong aggregation
SPEC = Spec("f0t0", "x", "table", "table", "sales.csv", "region", "revenue", None, "sum", "desc")
EXPECTED = Expected(values=SUMS, order=list(SUMS), rows=4)


def _docx(path: Path, rows: dict[str, float]) -> None:
    import docx

    doc = docx.Document()
    doc.add_heading("Revenue per region", 1)
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Region", "Revenue"
    for k, v in rows.items():
        cells = table.add_row().cells
        cells[0].text, cells[1].text = k, f"{v:,.2f}"
    doc.save(str(path))


def _xlsx(path: Path, rows: dict[str, float]) -> None:
    """Values as formulas over a data block: the check sees the formula's result."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Region", "Revenue"])
    for k, v in rows.items():
        ws.append([k, f"={v / 2}+{v / 2}"])
    ws.append(["Total", f"=SUM(B2:B{len(rows) + 1})"])
    wb.save(str(path))


def _pdf(path: Path, rows: dict[str, float]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    y = 800
    c.drawString(72, y, "Revenue per region")
    for k, v in rows.items():
        y -= 20
        c.drawString(72, y, f"{k}: ${v:,.0f}")
    c.save()


def _pptx(path: Path, rows: dict[str, float]) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    shape = slide.shapes.add_table(len(rows) + 1, 2, Inches(1), Inches(1.5), Inches(6), Inches(3))
    shape.table.cell(0, 0).text, shape.table.cell(0, 1).text = "Region", "Revenue"
    for i, (k, v) in enumerate(rows.items(), start=1):
        shape.table.cell(i, 0).text, shape.table.cell(i, 1).text = k, str(v)
    prs.save(str(path))


def _csv(path: Path, rows: dict[str, float]) -> None:
    path.write_text("region,revenue\n" + "".join(f"{k},{v}\n" for k, v in rows.items()))


def _json(path: Path, rows: dict[str, float]) -> None:
    path.write_text(json.dumps([{"region": k, "revenue": v} for k, v in rows.items()]))


MAKERS: dict[str, Callable[[Path, dict[str, float]], None]] = {
    "docx": _docx, "xlsx": _xlsx, "pdf": _pdf, "pptx": _pptx, "csv": _csv, "json": _json,
}  # fmt: skip


def _rows(tmp_path: Path, kind: str, rows: dict[str, float]) -> list[list[str]]:
    path = tmp_path / f"out.{kind}"
    MAKERS[kind](path, rows)
    facts = file_facts(path, kind)
    assert facts, f"the facts of {path.name} could not be read"
    return rows_of(facts)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_right_table_passes_and_wrong_aggregation_fails(kind: str, tmp_path: Path) -> None:
    assert check_table(SPEC, EXPECTED, _rows(tmp_path, kind, SUMS)) is None
    problem = check_table(SPEC, EXPECTED, _rows(tmp_path, kind, MEANS))
    assert problem is not None and "East=1700" in problem and "expected East=3400" in problem


def test_wrong_sort_and_a_missing_group_fail(tmp_path: Path) -> None:
    unsorted = {"West": 500.0, "East": 3400.0, "North": 800.0}
    problem = check_table(SPEC, EXPECTED, _rows(tmp_path, "docx", unsorted))
    assert problem == "its rows are not sorted highest first: they go West, East, North"
    missing = {"East": 3400.0, "West": 500.0}
    problem = check_table(SPEC, EXPECTED, _rows(tmp_path, "csv", missing))
    assert problem == "it does not show North=800"


@pytest.mark.parametrize(
    ("text", "numbers"),
    [("East 1,234.50", [1234.5]), ("$3,400 and 12.5%", [3400.0, 12.5]), ("(1,200)", [-1200.0])],
)
def test_numbers_are_read_as_people_write_them(text: str, numbers: list[float]) -> None:
    assert numbers_in(text) == numbers


@pytest.mark.parametrize(
    ("shown", "expected", "same"),
    [(1234.5, 1234.5, True), (1235, 1234.5, True), (1234.50, 1234.4999, True),
     (3.33, 10 / 3, True), (1200, 3400, False), (1700, 1733, False)],
)  # fmt: skip
def test_close_allows_rounding_not_another_number(
    shown: float, expected: float, same: bool
) -> None:
    assert close(shown, expected) is same


def test_several_aggregations_per_group_and_a_single_figure(tmp_path: Path) -> None:
    spec = Spec("t", "x", "table", "table", "s.csv", "region", "revenue", None, "mean", "none",
                aggs=("mean", "max"))  # fmt: skip
    expected = Expected(series={"mean": {"East": 1700.0, "West": 500.0},
                                "max": {"East": 2400.0, "West": 500.0}})  # fmt: skip
    path = tmp_path / "t.csv"
    path.write_text("region,mean,max\nEast,1700,2400\nWest,500,500\n")
    assert check_table(spec, expected, rows_of(file_facts(path, "csv"))) is None
    path.write_text("region,mean,max\nEast,1700,1700\nWest,500,500\n")
    problem = check_table(spec, expected, rows_of(file_facts(path, "csv")))
    assert problem == "max: it shows East=1700 (expected East=2400)"
    one = Spec("o", "x", "table", "table", "s.csv", None, "revenue", None, "sum", "none")
    _pdf(tmp_path / "o.pdf", {"Total revenue": 5600.0})
    rows = rows_of(file_facts(tmp_path / "o.pdf", "pdf"))
    assert check_table(one, Expected(values={"sum": 5600.0}), rows) is None
    assert check_table(one, Expected(values={"sum": 5200.0}), rows) == "it does not show sum=5200"


def test_a_listing_shows_the_inputs_values_for_the_rows_it_shows(tmp_path: Path) -> None:
    from promptkiln.checks.content_expected import specs_for
    from promptkiln.plan import ColumnProfile, InputProfile, OutputFile, Plan, Profile, Table
    from promptkiln.plan import TableProfile as TP

    profile = Profile(
        inputs=[
            InputProfile(file="regions.csv", kind="table", tables=[TP(
                name="regions.csv", rows=3,
                columns=[ColumnProfile(name="region", dtype="text", distinct=3),
                         ColumnProfile(name="share", dtype="number", distinct=3),
                         ColumnProfile(name="revenue", dtype="number", distinct=3)],
            )])
        ]
    )  # fmt: skip
    listing = Table(columns=["region", "revenue", "share"])
    plan = Plan(files=[OutputFile(name="r.docx", title="R", input="regions.csv", tables=[listing])])
    assert specs_for(plan) == []  # without the profile, a listing has no label to go by
    [spec] = specs_for(plan, profile)
    assert (spec.x, spec.y, spec.agg, spec.listing) == ("region", "revenue", "none", True)
    want = Expected(values=SUMS, order=list(SUMS), rows=3)
    assert check_table(spec, want, _rows(tmp_path, "docx", SUMS)) is None
    # a filtered or shortened listing is fine; a wrong value or a value left out is not
    assert check_table(spec, want, _rows(tmp_path, "pdf", {"East": 3400.0})) is None
    wrong = check_table(spec, want, _rows(tmp_path, "csv", {"East": 3400.0, "West": 50.0}))
    assert wrong == "it shows West=50 (the input has West=500)"
    bare = [["Regions"], ["East"], ["North"]]
    assert check_table(spec, want, bare) == "it shows East, North without its revenue"
    shares = Expected(values={"East": 0.25}, order=["East"], rows=3)
    assert check_table(spec, shares, [["East", "25%"]]) is None  # a fraction as a percentage
