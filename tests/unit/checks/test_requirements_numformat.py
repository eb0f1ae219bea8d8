"""Number formats a request asks of a workbook, judged on real files written with openpyxl."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from promptkiln.checks.facts import file_facts
from promptkiln.checks.requirements import check, how_to_meet, parse


def _book(path: Path, number_format: str | None, formula: bool = False) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["month", "visitors"])
    for month, visitors in (("Jan", 27606), ("Feb", 46133)):
        ws.append([month, visitors])
    ws["B4"] = "=SUM(B2:B3)" if formula else 73739
    if number_format is not None:
        for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
            row[0].number_format = number_format
    wb.save(path)
    return path


@pytest.mark.parametrize(
    ("prompt", "right", "wrong"),
    [
        ("Spreadsheet of monthly.csv with the visitors column formatted with thousands separators",
         "#,##0", "0"),
        ("a workbook with each region's share, formatted as percentages", "0.0%", "0.00"),
        ("revenue per region in an Excel file, in currency format", '"$"#,##0.00', "#,##0"),
    ],
)  # fmt: skip
def test_a_workbook_with_the_asked_format_passes_and_one_without_fails(
    tmp_path: Path, prompt: str, right: str, wrong: str
) -> None:
    [req] = [r for r in parse(prompt, ["xlsx"]) if r.kind == "numformat"]
    good = {"a.xlsx": file_facts(_book(tmp_path / "a.xlsx", right), "xlsx")}
    bad = {"a.xlsx": file_facts(_book(tmp_path / "b.xlsx", wrong), "xlsx")}
    plain = {"a.xlsx": file_facts(_book(tmp_path / "c.xlsx", None), "xlsx")}
    assert check([req], good)[0].met
    [outcome] = check([req], bad)
    assert not outcome.met and outcome.detail == f"the numbers' formats are {wrong!r}"
    assert check([req], plain)[0].detail == "the numbers' formats are 'General'"
    assert "cell.number_format = " in how_to_meet(req)


def test_a_formula_cell_counts_and_other_formats_ask_nothing(tmp_path: Path) -> None:
    book = _book(tmp_path / "f.xlsx", "#,##0", formula=True)
    [req] = parse("a workbook with thousands separators", ["xlsx"])
    assert check([req], {"f.xlsx": file_facts(book, "xlsx")})[0].met
    assert [
        r for r in parse("a PDF with thousands separators", ["pdf"]) if r.kind == "numformat"
    ] == []
