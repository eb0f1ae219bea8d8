"""HOLDOUT SPLIT — workbooks. Run only to report (`run.py --split holdout`); never read these
prompts or checkers while changing the platform."""

from __future__ import annotations

from pathlib import Path

import judge as j
from checks import files, formulas, xlsx_book
from content import has_value, sheet_rows
from expect import column, group, rows
from holdout_tasks_docs import _plain, _region_revenue
from task import task
from xlsx_charts import native_series


def _region_by_category() -> dict[str, list[float]]:
    """Each region's revenue in Furniture, Electronics and Stationery."""
    out: dict[str, list[float]] = {}
    for region in sorted(_region_revenue()):

        def here(r: dict[str, str], g: str = region) -> bool:
            return r["region"] == g

        cats = group("orders.csv", "category", _plain, where=here)
        out[region] = [cats.get(c, 0.0) for c in ("Furniture", "Electronics", "Stationery")]
    return out


def _line_totals(out: Path) -> list[str]:
    """Every order's line total comes from a formula, and a formula gives the grand total."""
    found = files(out, "xlsx")
    if not found:
        return ["no .xlsx file"]
    wb, values = xlsx_book(found[0])
    results = [values.get((s, c)) for s, c, _ in formulas(wb)]
    numbers = [float(v) for v in results if isinstance(v, (int, float))]
    want = [_plain(r) for r in rows("orders.csv")]
    missing = [w for w in want if not any(abs(n - w) < 0.01 for n in numbers)]
    problems = (
        [f"{len(missing)} of {len(want)} line totals are not formula results"] if missing else []
    )
    total = sum(want)
    if not any(abs(n - total) < 0.01 for n in numbers):
        problems.append(f"no formula gives the grand total {total:,.2f}")
    return problems


def _yoy(out: Path) -> list[str]:
    found = files(out, "xlsx")
    if not found:
        return ["no .xlsx file"]
    from holdout_tasks import _store_totals

    totals = _store_totals()
    lines = [x for rows_ in sheet_rows(found[0]).values() for x in rows_]
    problems = []
    for store in totals["2023"]:
        a, b = totals["2023"][store], totals["2024"][store]
        change = (b - a) / a
        row = [x for x in lines if store.casefold() in x.casefold()]
        if not any(has_value(x, a) and has_value(x, b) for x in row):
            problems.append(f"{store}: no row with {a:,.0f} and {b:,.0f}")
        elif not any(has_value(x, change, 0.0005) or has_value(x, 100 * change, 0.05) for x in row):
            problems.append(f"{store}: the change {100 * change:.1f} % is not in its row")
    wb, _ = xlsx_book(found[0])
    pct = any(
        "%" in str(c.number_format) for ws in wb.worksheets for r in ws.iter_rows() for c in r
    )
    return problems + ([] if pct else ["no percentage format"])


def _native_line(out: Path) -> list[str]:
    found = files(out, "xlsx")
    if not found:
        return ["no .xlsx file"]
    series = native_series(found[0])
    want = column("web_traffic.csv", "visits")
    if not series:
        return ["no native chart in the workbook"]
    for s in series:
        if len(s["values"]) == len(want) and all(
            abs(a - b) < 0.5 for a, b in zip(s["values"], want, strict=True)
        ):
            return (
                []
                if s["kind"] == "line"
                else [f"the chart is a {s['kind']} chart, not a line chart"]
            )
    return [
        f"no chart series holds the {len(want)} monthly visits (series: {[s['values'][:3] for s in series]})"
    ]


def _countif(out: Path) -> list[str]:
    found = files(out, "xlsx")
    if not found:
        return ["no .xlsx file"]
    wb, values = xlsx_book(found[0])
    counted = [values.get((s, c)) for s, c, f in formulas(wb) if "COUNTIF" in f.upper()]
    want = group("tickets.json", "priority", agg="count")
    return [
        f"no COUNTIF formula gives {n:.0f} {p} tickets"
        for p, n in want.items()
        if not any(isinstance(v, (int, float)) and abs(v - n) < 0.01 for v in counted)
    ]


def _pmt(out: Path) -> list[str]:
    found = files(out, "xlsx")
    if not found:
        return ["no .xlsx file"]
    wb, values = xlsx_book(found[0])
    r, n = 0.06 / 12, 60
    want = 25000 * r / (1 - (1 + r) ** -n)
    got = [values.get((s, c)) for s, c, f in formulas(wb) if "PMT" in f.upper()]
    ok = any(isinstance(v, (int, float)) and abs(abs(v) - want) < 0.01 for v in got)
    return [] if ok else [f"no PMT formula gives the monthly payment {want:,.2f} (found {got})"]


TASKS = [
    task(
        "ho_xlsx_line_total_formulas",
        "xlsx",
        "Spreadsheet of orders.csv with an extra Line total column computed by a formula "
        "(quantity times unit_price) and a grand total at the bottom.",
        "xlsx",
        _line_totals,
        ("orders.csv",),
    ),
    task(
        "ho_xlsx_region_by_category",
        "xlsx",
        "Workbook with a sheet showing revenue (quantity × unit price) for each region broken "
        "down by category, one row per region and one column per category.",
        "xlsx",
        j.rows_with("xlsx", _region_by_category),
        ("orders.csv",),
    ),
    task(
        "ho_xlsx_store_yoy",
        "xlsx",
        "Using store_sales.xlsx, build a workbook comparing each store's 2023 and 2024 totals, "
        "with the year-over-year change as a formula formatted as a percentage.",
        "xlsx",
        _yoy,
        ("store_sales.xlsx",),
    ),
    task(
        "ho_xlsx_native_line_visits",
        "xlsx",
        "Excel file with the monthly visits from web_traffic.csv and a native Excel line chart "
        "of them.",
        "xlsx",
        _native_line,
        ("web_traffic.csv",),
    ),
    task(
        "ho_xlsx_countif_priority",
        "xlsx",
        "Workbook with the tickets from tickets.json on one sheet and a summary sheet that "
        "counts the tickets per priority with COUNTIF formulas.",
        "xlsx",
        _countif,
        ("tickets.json",),
    ),
    task(
        "ho_xlsx_loan_pmt",
        "xlsx",
        "Loan calculator in Excel: 25,000 borrowed at 6% a year over 5 years; compute the "
        "monthly payment with the PMT formula.",
        "xlsx",
        _pmt,
    ),
]
