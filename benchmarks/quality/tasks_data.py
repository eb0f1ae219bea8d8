"""Data files (CSV, JSON, Parquet), multi-file requests and two-step edits in a session."""

from __future__ import annotations

from pathlib import Path

import judge as j
from checks import close, csv_rows, formulas, json_load, need, pdf_info, xlsx_book
from inputs import table
from task import Step, task
from tasks_charts import _png
from tasks_pdf import sales_totals


def _totals_match(rows: list[dict[str, str]]) -> list[str]:
    want = sales_totals()
    if len(rows) != len(want):
        return [f"{len(rows)} rows, not one per region ({len(want)})"]
    problems = []
    for region, total in want.items():
        row = next((r for r in rows if r.get("region", "").strip() == region), None)
        values = [] if row is None else [_number(v) for k, v in row.items() if k != "region"]
        found = [v for v in values if v is not None]
        if not any(close(v, total, 0.01) for v in found):
            problems.append(f"{region}: expected {total:.2f}, found {found or None}")
    return problems


def _number(text: str) -> float | None:
    """A cell as a reader reads it: "1,234.50" and "$1234.5" are numbers."""
    cleaned = text.strip().replace(",", "").lstrip("$€£").strip()
    try:
        return float(cleaned)
    except ValueError:
        return None


def groupby_csv(out: Path) -> list[str]:
    path, problems = need(out, "csv")
    return problems if path is None else _totals_match(csv_rows(path))


def summary_json(out: Path) -> list[str]:
    path, problems = need(out, "json")
    if path is None:
        return problems
    data = json_load(path)
    if not isinstance(data, dict):
        return ["the JSON is not an object"]
    totals = sales_totals()
    problems = [
        f"no key {k!r}" for k in ("total_revenue", "best_region", "regions") if k not in data
    ]
    if problems:
        return problems
    if not close(data["total_revenue"], sum(totals.values()), 0.01):
        problems.append(f"total_revenue is {data['total_revenue']}, not {sum(totals.values()):.2f}")
    if data["best_region"] != max(totals, key=lambda r: totals[r]):
        problems.append(f"best_region is {data['best_region']!r}")
    return problems


def parquet(out: Path) -> list[str]:
    path, problems = need(out, "parquet")
    if path is None:
        return problems
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    want = len(table("sales.csv"))
    problems = [] if t.num_rows == want else [f"{t.num_rows} rows, not {want}"]
    problems += [f"no column {c!r}" for c in ("region", "revenue") if c not in t.column_names]
    if not problems:
        total = sum(float(r["revenue"]) for r in table("sales.csv"))
        got = sum(float(v or 0) for v in t.column("revenue").to_pylist())
        problems += (
            [] if close(got, total) else [f"revenue adds up to {got:,.2f}, not {total:,.2f}"]
        )
    return problems


def filtered(out: Path) -> list[str]:
    path, problems = need(out, "csv")
    if path is None:
        return problems
    rows = csv_rows(path)
    want = sorted(
        (r for r in table("products.csv") if int(r["units"]) > 100), key=lambda r: -int(r["units"])
    )
    got = [r.get("product") for r in rows]
    return (
        []
        if got == [r["product"] for r in want]
        else [f"products {got}, expected {[r['product'] for r in want]}"]
    )


def chart_and_pdf(out: Path) -> list[str]:
    path, problems = need(out, "pdf")
    if path is None:
        return problems + _png(out)
    pages, _, images = pdf_info(path)
    return (
        j.bars("png", sales_totals)(out)
        + ([] if pages == 1 else [f"{pages} pages"])
        + ([] if images else ["the PDF has no chart image"])
    )


def xlsx_and_csv(out: Path) -> list[str]:
    path, problems = need(out, "csv")
    _xlsx, more = need(out, "xlsx")
    return problems + more + ([] if path is None else _totals_match(csv_rows(path)))


def pie_and_csv(out: Path) -> list[str]:
    path, problems = need(out, "csv")
    if path is None:
        return problems + _png(out)
    rows = csv_rows(path)
    want = dict(zip(("Q1", "Q2", "Q3", "Q4"), (2.1, 2.8, 3.2, 3.9), strict=True))
    return (
        j.pie("png", lambda: want)(out)
        + ([] if len(rows) == 4 else [f"the CSV has {len(rows)} rows, not 4"])
        + j.values("csv", lambda: want)(out)
    )


def added_total(out: Path) -> list[str]:
    path, problems = need(out, "xlsx")
    if path is None:
        return problems
    wb, values = xlsx_book(path)
    total = float(sum(int(r["revenue"]) for r in table("region_revenue.csv")))
    sums = [values[(s, c)] for s, c, f in formulas(wb) if "SUM(" in f.upper()]
    return [] if any(close(v, total) for v in sums) else [f"no SUM formula gives {total:,.0f}"]


def first_xlsx(out: Path) -> list[str]:
    _path, problems = need(out, "xlsx")
    return problems


CSV_SOLUTION = """
import pandas as pd
df = pd.read_csv("inputs/sales.csv")
out = df.groupby("region", as_index=False)["revenue"].sum().rename(columns={"revenue": "total"})
out["total"] = out["total"].round(2)
out.to_csv("totals.csv", index=False)
"""

TASKS = [
    task(
        "csv_groupby",
        "data",
        "CSV with the total revenue per region from sales.csv: one row per region, columns "
        "region,total",
        "csv",
        groupby_csv,
        ("sales.csv",),
        solution=CSV_SOLUTION,
    ),
    task(
        "json_summary",
        "data",
        "JSON file summarising sales.csv with the keys total_revenue (a number), best_region "
        "(the region with the most revenue) and regions (the list of regions)",
        "json",
        summary_json,
        ("sales.csv",),
    ),
    task(
        "parquet_convert",
        "data",
        "Convert sales.csv to a Parquet file with the same columns",
        "parquet",
        parquet,
        ("sales.csv",),
    ),
    task(
        "csv_filter_sort",
        "data",
        "CSV of only the products in products.csv with more than 100 units, sorted by units "
        "from most to least, same columns",
        "csv",
        filtered,
        ("products.csv",),
    ),
    task(
        "multi_chart_pdf",
        "multi",
        "From sales.csv: a bar chart of revenue by region as PNG, and a one-page PDF summary "
        "that includes that chart",
        "png pdf",
        chart_and_pdf,
        ("sales.csv",),
    ),
    task(
        "multi_xlsx_csv",
        "multi",
        "Total revenue per region from sales.csv, as both an Excel workbook and a CSV with "
        "columns region,total",
        "xlsx csv",
        xlsx_and_csv,
        ("sales.csv",),
    ),
    task(
        "session_pie_and_csv",
        "session",
        "Bar chart of quarterly revenue: Q1=2.1, Q2=2.8, Q3=3.2, Q4=3.9",
        "png",
        _png,
        then=Step(
            "Now make it a pie chart instead, and also save the data as a CSV",
            ("png", "csv"),
            pie_and_csv,
        ),
    ),
    task(
        "session_add_total",
        "session",
        "Excel workbook with the regions and revenue from the CSV",
        "xlsx",
        first_xlsx,
        ("region_revenue.csv",),
        then=Step("Add a Total row at the bottom with a SUM formula", ("xlsx",), added_total),
    ),
]
