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


def test_a_frozen_header_and_an_auto_filter(tmp_path: Path) -> None:
    prompt = "Workbook from products.csv with the header row frozen and an auto-filter"
    reqs = [r for r in parse(prompt, ["xlsx"]) if r.kind in ("frozen", "autofilter")]
    assert [r.kind for r in reqs] == ["frozen", "autofilter"]
    plain = _book(tmp_path / "plain.xlsx", None)
    wb = Workbook()
    ws = wb.active
    ws.append(["product", "units"])
    ws.append(["A", 3])
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    wb.save(tmp_path / "set.xlsx")
    done = check(reqs, {"s.xlsx": file_facts(tmp_path / "set.xlsx", "xlsx")})
    assert all(o.met for o in done), [o.detail for o in done]
    missed = check(reqs, {"p.xlsx": file_facts(plain, "xlsx")})
    assert [o.detail for o in missed] == [
        "no sheet has frozen panes",
        "no sheet has an auto-filter",
    ]
    assert "freeze_panes" in how_to_meet(reqs[0]) and "auto_filter" in how_to_meet(reqs[1])
    assert parse("freeze the top row of the sheet", ["xlsx"])[0].kind == "frozen"
    assert (
        parse("an Excel file with filter buttons on the header", ["xlsx"])[0].kind == "autofilter"
    )
