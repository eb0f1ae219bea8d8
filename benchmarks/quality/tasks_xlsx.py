"""Excel workbooks: formulas whose results are evaluated, number formats, sheets, native charts."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from checks import any_value, formulas, need, xlsx_book
from inputs import table
from task import task


def _book(out: Path) -> tuple[Any, dict[tuple[str, str], Any], list[str]]:
    path, problems = need(out, "xlsx")
    if path is None:
        return None, {}, problems
    wb, values = xlsx_book(path)
    return wb, values, []


def _region_total() -> float:
    return float(sum(int(r["revenue"]) for r in table("region_revenue.csv")))


def sum_total(out: Path) -> list[str]:
    wb, values, problems = _book(out)
    if wb is None:
        return problems
    sums = [(s, c) for s, c, f in formulas(wb) if "SUM(" in f.upper()]
    if not sums:
        return ["no SUM formula"]
    ok = any_value((values[k] for k in sums), _region_total())
    return [] if ok else [f"no SUM formula evaluates to {_region_total():,.0f}"]


def two_sheets(out: Path) -> list[str]:
    wb, values, problems = _book(out)
    if wb is None:
        return problems
    names = [n.lower() for n in wb.sheetnames]
    problems = [f"no sheet named {n!r}" for n in ("data", "summary") if n not in names]
    if problems:
        return problems
    summary = wb.sheetnames[names.index("summary")]
    found = [values[(s, c)] for s, c, _ in formulas(wb) if s == summary]
    revenue = [int(r["revenue"]) for r in table("region_revenue.csv")]
    want = [float(sum(revenue)), statistics.mean(revenue)]
    return [f"no Summary formula evaluates to {w:,.2f}" for w in want if not any_value(found, w)]


def number_format(out: Path) -> list[str]:
    wb, _, problems = _book(out)
    if wb is None:
        return problems
    ws = wb.worksheets[0]
    formats = {
        c.number_format
        for row in ws.iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, (int, float))
    }
    problems = [] if any("#,##0" in f for f in formats) else ["no thousands-separator format"]
    bold = any(c.font is not None and c.font.b for c in ws[1])
    return problems + ([] if bold else ["the header row is not bold"])


def native_chart(out: Path) -> list[str]:
    wb, _, problems = _book(out)
    if wb is None:
        return problems
    import zipfile

    path, _ = need(out, "xlsx")
    assert path is not None
    with zipfile.ZipFile(path) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
    return [] if charts else ["no native chart in the workbook"]


def averages(out: Path) -> list[str]:
    wb, values, problems = _book(out)
    if wb is None:
        return problems
    found = [values[(s, c)] for s, c, f in formulas(wb) if "AVERAGE(" in f.upper()]
    problems = []
    for row in table("grades.csv"):
        want = statistics.mean(int(row[k]) for k in ("test1", "test2", "test3"))
        if not any_value(found, want):
            problems.append(f"no AVERAGE formula gives {row['student']}'s {want:.2f}")
    return problems


def frozen(out: Path) -> list[str]:
    wb, _, problems = _book(out)
    if wb is None:
        return problems
    ws = wb.worksheets[0]
    problems = [] if ws.freeze_panes == "A2" else [f"freeze panes is {ws.freeze_panes}, not A2"]
    return problems + ([] if ws.auto_filter.ref else ["no auto-filter"])


def shares(out: Path) -> list[str]:
    wb, values, problems = _book(out)
    if wb is None:
        return problems
    found = [values[(s, c)] for s, c, f in formulas(wb) if "/" in f]
    rows = table("region_revenue.csv")
    total = _region_total()
    problems = [
        f"no formula gives {r['region']}'s share {int(r['revenue']) / total:.4f}"
        for r in rows
        if not any_value(found, int(r["revenue"]) / total, 0.0005)
    ]
    ws_formats = {c.number_format for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    return problems + ([] if any("%" in f for f in ws_formats) else ["no percentage format"])


def budget(out: Path) -> list[str]:
    wb, values, problems = _book(out)
    if wb is None:
        return problems
    found = [values[(s, c)] for s, c, _ in formulas(wb)]
    return [] if any_value(found, 2700) else ["no formula evaluates to the remaining 2700"]


XLSX_SOLUTION = """
import pandas as pd
from openpyxl import Workbook
df = pd.read_csv("inputs/region_revenue.csv")
wb = Workbook()
ws = wb.active
ws.append(["region", "revenue"])
for r in df.itertuples(index=False):
    ws.append([r.region, int(r.revenue)])
n = len(df) + 1
ws.append(["Total", f"=SUM(B2:B{n})"])
wb.save("revenue.xlsx")
"""

TASKS = [
    task(
        "xlsx_sum_total",
        "xlsx",
        "Excel workbook with the regions and revenue from the CSV, and a Total row at the "
        "bottom that uses a SUM formula",
        "xlsx",
        sum_total,
        ("region_revenue.csv",),
        solution=XLSX_SOLUTION,
    ),
    task(
        "xlsx_two_sheets",
        "xlsx",
        "Workbook with two sheets: 'Data' holding the CSV rows, and 'Summary' with the total "
        "and the average revenue as formulas that refer to the Data sheet",
        "xlsx",
        two_sheets,
        ("region_revenue.csv",),
    ),
    task(
        "xlsx_number_format",
        "xlsx",
        "Spreadsheet of monthly.csv with the visitors column formatted with thousands "
        "separators (#,##0) and a bold header row",
        "xlsx",
        number_format,
        ("monthly.csv",),
    ),
    task(
        "xlsx_native_chart",
        "xlsx",
        "Workbook with quarterly revenue Q1 2.1, Q2 2.8, Q3 3.2, Q4 3.9 and a native Excel "
        "bar chart of it",
        "xlsx",
        native_chart,
    ),
    task(
        "xlsx_average_formulas",
        "xlsx",
        "Workbook of grades.csv with an extra Average column computed with an AVERAGE "
        "formula for each student",
        "xlsx",
        averages,
        ("grades.csv",),
    ),
    task(
        "xlsx_frozen_filter",
        "xlsx",
        "Workbook from products.csv with the header row frozen and an auto-filter on the header",
        "xlsx",
        frozen,
        ("products.csv",),
    ),
    task(
        "xlsx_percent_share",
        "xlsx",
        "Workbook with each region's revenue and its share of the total revenue as a "
        "formula, formatted as a percentage",
        "xlsx",
        shares,
        ("region_revenue.csv",),
    ),
    task(
        "xlsx_budget",
        "xlsx",
        "Monthly budget spreadsheet: income 5000; expenses rent 1500, food 600, transport "
        "200; a Remaining cell computed by a formula as income minus all expenses",
        "xlsx",
        budget,
    ),
]
