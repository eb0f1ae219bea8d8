"""Dev split, added with issue 19: requests phrased the way people write them, judged on
content (per-group values, sort order, series, formula results, named parties)."""

from __future__ import annotations

from pathlib import Path

import judge as j
from checks import files, formulas, has_date, has_text, xlsx_book
from content import doc_lines, labeled_values, labels_in_order
from expect import group, ordered, rows, top
from task import task


def _stock_value() -> dict[str, float]:
    return {r["product"]: int(r["units"]) * float(r["price"]) for r in rows("products.csv")}


def _grade_means() -> dict[str, float]:
    return {
        r["student"]: sum(float(r[k]) for k in ("test1", "test2", "test3")) / 3
        for r in rows("grades.csv")
    }


def _quarters() -> dict[str, list[float]]:
    return {
        r["region"]: [float(r[q]) for q in ("q1", "q2", "q3", "q4")]
        for r in rows("sales_by_region.csv")
    }


def _quarter_totals() -> dict[str, float]:
    return {
        q.upper(): sum(float(r[q]) for r in rows("sales_by_region.csv"))
        for q in ("q1", "q2", "q3", "q4")
    }


def _sumif(out: Path) -> list[str]:
    found = files(out, "xlsx")
    if not found:
        return ["no .xlsx file"]
    wb, values = xlsx_book(found[0])
    got = [values.get((s, c)) for s, c, f in formulas(wb) if "SUMIF" in f.upper()]
    want = group("sales.csv", "region", "revenue")
    return [
        f"no SUMIF formula gives {r}'s {v:,.2f}"
        for r, v in want.items()
        if not any(isinstance(x, (int, float)) and abs(x - v) < 0.01 for x in got)
    ]


def _ranked_pdf(out: Path) -> list[str]:
    lines, problems = doc_lines(out, "pdf")
    return problems or labels_in_order(lines, ordered(_grade_means()))


def _offer_letter(out: Path) -> list[str]:
    lines, problems = doc_lines(out, "docx")
    text = "\n".join(lines)
    return problems or has_text(
        text, "Northwind Traders", "Elena Petrova", "Data Analyst"
    ) + has_date(text, 1, 9, 2025) + labeled_values(
        [*text.splitlines(), text.replace("\n", " ")], {"salary": 58000.0}
    )


def _recent_hires() -> list[dict[str, str]]:
    return rows("employees.csv", lambda r: r["hire_date"] >= "2020")


def _hires(out: Path) -> list[str]:
    lines, problems = doc_lines(out, "json")
    if problems:
        return problems
    text = "\n".join(lines)
    want = _recent_hires()
    missing = [r["name"] for r in want if r["name"] not in text]
    earlier = [
        r["name"]
        for r in rows("employees.csv")
        if r["hire_date"] < "2020"
        and r["name"] not in {w["name"] for w in want}
        and r["name"] in text
    ]
    n = sum(
        1
        for x in lines
        if "department" in x.casefold()
        or any(d in x for d in ("Engineering", "Sales", "Finance", "Support"))
    )
    return (
        ([f"missing: {missing[:4]}"] if missing else [])
        + ([f"hired before 2020 but listed: {earlier[:4]}"] if earlier else [])
        + ([] if n >= len(want) else [f"{n} records, expected {len(want)}"])
    )


def _units_per_month() -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows("sales.csv"):
        out[r["date"][:7]] = out.get(r["date"][:7], 0.0) + float(r["units"])
    return out


TASKS = [
    task(
        "dev_bar_region_sorted",
        "chart",
        "Bar chart of total revenue by region from sales.csv, ordered from largest to smallest.",
        "png",
        j.bars("png", lambda: group("sales.csv", "region", "revenue"), order="desc"),
        ("sales.csv",),
    ),
    task(
        "dev_lines_region_quarters",
        "chart",
        "Line chart of the quarterly revenue in sales_by_region.csv with a separate line for "
        "each region (Q1 to Q4 on the x axis).",
        "png",
        j.lines("png", _quarters),
        ("sales_by_region.csv",),
    ),
    task(
        "dev_pie_units_product",
        "chart",
        "Pie chart showing what share of the units each product accounts for in sales.csv.",
        "png",
        j.pie("png", lambda: group("sales.csv", "product", "units")),
        ("sales.csv",),
    ),
    task(
        "dev_bar_student_average",
        "chart",
        "Bar chart of each student's average over the three tests in grades.csv.",
        "png",
        j.bars("png", _grade_means),
        ("grades.csv",),
    ),
    task(
        "dev_svg_price_cheapest_first",
        "chart",
        "SVG bar chart of the price of each product in products.csv, cheapest first.",
        "svg",
        j.bars(
            "svg",
            lambda: {r["product"]: float(r["price"]) for r in rows("products.csv")},
            order="asc",
        ),
        ("products.csv",),
    ),
    task(
        "dev_line_oslo",
        "chart",
        "Line chart of Oslo's daily temperature from temperatures.csv, titled 'Oslo, March 2024'.",
        "png",
        j.line(
            "png",
            lambda: [
                float(r["temp_c"]) for r in rows("temperatures.csv", lambda r: r["city"] == "Oslo")
            ],
            title=("Oslo",),
        ),
        ("temperatures.csv",),
    ),
    task(
        "dev_csv_mean_per_region",
        "data",
        "For each region, the average revenue per transaction in sales.csv, as a CSV.",
        "csv",
        j.values("csv", lambda: group("sales.csv", "region", "revenue", "mean")),
        ("sales.csv",),
    ),
    task(
        "dev_json_product_counts",
        "data",
        "JSON object mapping each product in sales.csv to its number of transactions.",
        "json",
        j.values("json", lambda: group("sales.csv", "product", agg="count")),
        ("sales.csv",),
    ),
    task(
        "dev_csv_top3_units",
        "data",
        "The top 3 regions by units sold in sales.csv, as a CSV, most units first.",
        "csv",
        j.every(
            j.values("csv", lambda: top(group("sales.csv", "region", "units"), 3), order="desc"),
            j.row_count("csv", lambda: 3),
        ),
        ("sales.csv",),
    ),
    task(
        "dev_csv_units_per_month",
        "data",
        "Units sold per month in sales.csv, one row per month.",
        "csv",
        j.values(
            "csv",
            _units_per_month,
            aliases=lambda: j.month_aliases(list(_units_per_month())),
        ),
        ("sales.csv",),
    ),
    task(
        "dev_json_recent_hires",
        "data",
        "JSON list of the employees hired in 2020 or later, with name, department and hire date.",
        "json",
        _hires,
        ("employees.csv",),
    ),
    task(
        "dev_pdf_stock_value",
        "pdf",
        "PDF with a table of the products and their stock value (units × price), sorted by "
        "stock value in descending order.",
        "pdf",
        j.values("pdf", _stock_value, order="desc"),
        ("products.csv",),
    ),
    task(
        "dev_docx_offer_letter",
        "docx",
        "Offer letter from Northwind Traders to Elena Petrova for the position of Data Analyst, "
        "starting 1 September 2025, with a salary of 58,000 a year.",
        "docx",
        _offer_letter,
    ),
    task(
        "dev_docx_age_groups",
        "docx",
        "Word report on survey.csv with a table of the number of responses in each age group.",
        "docx",
        j.values("docx", lambda: group("survey.csv", "age_group", agg="count")),
        ("survey.csv",),
    ),
    task(
        "dev_pptx_slide_per_quarter",
        "pptx",
        "A 4-slide deck, one slide per quarter (Q1 to Q4), each giving the total revenue of "
        "that quarter across all regions in sales_by_region.csv.",
        "pptx",
        j.every(j.slides(4), j.values("pptx", _quarter_totals)),
        ("sales_by_region.csv",),
    ),
    task(
        "dev_xlsx_sumif_region",
        "xlsx",
        "Workbook with the rows of sales.csv and a summary table of revenue per region using "
        "SUMIF formulas.",
        "xlsx",
        _sumif,
        ("sales.csv",),
    ),
    task(
        "dev_multi_grades_xlsx_pdf",
        "multi",
        "From grades.csv: an Excel sheet with each student's average as a formula, and a PDF "
        "listing the students ranked by their average, best first.",
        "xlsx pdf",
        j.every(j.values("xlsx", _grade_means), _ranked_pdf),
        ("grades.csv",),
    ),
    task(
        "dev_docx_regions_listed",
        "docx",
        "Short Word summary of region_revenue.csv: one bullet per region with its revenue, "
        "from the highest to the lowest.",
        "docx",
        j.values(
            "docx",
            lambda: {r["region"]: float(r["revenue"]) for r in rows("region_revenue.csv")},
            order="desc",
        ),
        ("region_revenue.csv",),
    ),
]
