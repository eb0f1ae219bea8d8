"""HOLDOUT SPLIT — documents, decks, workbooks and multi-format requests. Run only to report
(`run.py --split holdout`); never read these prompts or checkers while changing the platform."""

from __future__ import annotations

from pathlib import Path

import judge as j
from checks import files, has_date, pdf_info, pptx_info
from content import doc_lines, labeled_values
from expect import aggregate, column, group, ordered, rows, top
from task import Check, task


def _plain(r: dict[str, str]) -> float:
    return float(r["quantity"]) * float(r["unit_price"])


def _region_revenue() -> dict[str, float]:
    return group("orders.csv", "region", _plain)


def _dates(ext: str, *dates: tuple[int, int, int]) -> Check:
    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        text = "\n".join(lines)
        return problems or [p for d in dates for p in has_date(text, *d)]

    return check


def _pdf_total(out: Path) -> list[str]:
    lines, problems = doc_lines(out, "pdf")
    total = sum(_region_revenue().values())
    return problems or labeled_values(lines, {"total": total})


def _temp_stats() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for city in ("Oslo", "Madrid", "Cairo"):

        def there(r: dict[str, str], c: str = city) -> bool:
            return r["city"] == c

        ts = column("temperatures.csv", "temp_c", there)
        out[city] = [aggregate(ts, "mean"), min(ts), max(ts)]
    return out


def _native_city_chart(out: Path) -> list[str]:
    found = files(out, "pptx")
    if not found:
        return ["no .pptx file"]
    charts = [c for s in pptx_info(found[0])["slides"] for c in s["charts"]]
    want = group("orders.csv", "city", agg="count")
    for c in charts:
        for vals in c["values"]:
            got = dict(zip(c["categories"], vals, strict=False))
            if len(got) == len(want) and all(
                abs(float(got.get(k) or -1) - v) < 0.01 for k, v in want.items()
            ):
                return []
    return [
        "no native chart with the number of orders per city"
        + (f" (charts: {charts})"[:200] if charts else "")
    ]


def _pdf_two_pages_chart(out: Path) -> list[str]:
    found = files(out, "pdf")
    if not found:
        return ["no .pdf file"]
    n, _, images = pdf_info(found[0])
    return ([] if n == 2 else [f"{n} pages, not 2"]) + ([] if images else ["no chart image"])


def _employee_book(out: Path) -> list[str]:
    """The workbook lists every employee and names every department."""
    lines, problems = doc_lines(out, "xlsx")
    if problems:
        return problems
    text = "\n".join(lines)
    people = [r["employee_id"] for r in rows("employees.csv")] or []
    names = [r["name"] for r in rows("employees.csv")]
    missing = [n for i, n in zip(people, names, strict=True) if i not in text and n not in text]
    depts = [d for d in group("employees.csv", "department", agg="count") if d not in text]
    return ([f"{len(missing)} employees missing from the workbook"] if missing else []) + [
        f"no department {d} in the workbook" for d in depts
    ]


def _revenue_2024() -> dict[str, float]:
    return {
        r["month"]: float(r["revenue"]) for r in rows("web_traffic.csv") if r["month"] >= "2024"
    }


TASKS = [
    task(
        "ho_pdf_region_table_total",
        "pdf",
        "PDF report: revenue (quantity × unit_price) broken down by region from orders.csv, "
        "highest first, in a table that ends with a total row.",
        "pdf",
        j.every(j.values("pdf", _region_revenue, order="desc"), _pdf_total),
        ("orders.csv",),
    ),
    task(
        "ho_pdf_invoice_vat",
        "pdf",
        "Invoice INV-2024-117 from Lumen Studio to Harbor & Pine Ltd: 12 hours of design at "
        "€85/hour, 3 stock photos at €20 each, hosting €120. Show the subtotal, VAT at 21% and "
        "the total due.",
        "pdf",
        j.every(
            j.words("pdf", "Lumen Studio", "Harbor & Pine", "INV-2024-117"),
            j.values("pdf", lambda: {"subtotal": 1200.0, "vat": 252.0, "total": 1452.0}),
            j.values(
                "pdf",
                lambda: {"design": 1020.0, "photo": 60.0, "hosting": 120.0},
                aliases=lambda: {"photo": ["photos"]},
            ),
        ),
    ),
    task(
        "ho_pdf_letter_reschedule",
        "pdf",
        "Write a letter from Dr. Maria Okafor at Riverside Clinic to Mr. Tomas Lindqvist moving "
        "his appointment from 4 June 2025 to 11 June 2025.",
        "pdf",
        j.every(
            j.words("pdf", "Maria Okafor", "Riverside Clinic", "Lindqvist"),
            _dates("pdf", (4, 6, 2025), (11, 6, 2025)),
        ),
    ),
    task(
        "ho_pdf_channel_stats",
        "pdf",
        "A PDF that lists, for each channel in survey.csv, how many responses there were and "
        "the average satisfaction to 2 decimals.",
        "pdf",
        j.rows_with(
            "pdf",
            lambda: {
                c: [n, group("survey.csv", "channel", "satisfaction", "mean")[c]]
                for c, n in group("survey.csv", "channel", agg="count").items()
            },
            tol=0.005,
        ),
        ("survey.csv",),
    ),
    task(
        "ho_pdf_chart_then_table",
        "pdf",
        "Two-page PDF from web_traffic.csv: page 1 a chart of monthly revenue for 2024, page 2 a "
        "table with the same monthly numbers.",
        "pdf",
        j.every(
            _pdf_two_pages_chart,
            j.values("pdf", _revenue_2024, aliases=lambda: j.month_aliases(list(_revenue_2024()))),
        ),
        ("web_traffic.csv",),
    ),
    task(
        "ho_docx_memo_finance",
        "docx",
        "Memo to the Finance team from Priya Raman, subject 'Q3 close', asking everyone to hand "
        "in their expense reports by 15 October 2024.",
        "docx",
        j.every(
            j.words("docx", "Finance", "Priya Raman", "Q3 close"), _dates("docx", (15, 10, 2024))
        ),
    ),
    task(
        "ho_docx_department_table",
        "docx",
        "Word document summarising employees.csv: a table with each department, its headcount "
        "and its average salary, sorted by average salary, highest first.",
        "docx",
        j.every(
            j.values(
                "docx", lambda: group("employees.csv", "department", "salary", "mean"), order="desc"
            ),
            j.values(
                "docx", lambda: group("employees.csv", "department", agg="count"), what="headcount "
            ),
        ),
        ("employees.csv",),
    ),
    task(
        "ho_docx_top_customers",
        "docx",
        "A one-page Word brief on our three biggest customers by number of orders, with a "
        "table of their order counts.",
        "docx",
        j.values(
            "docx", lambda: top(group("orders.csv", "customer", agg="count"), 3), order="desc"
        ),
        ("orders.csv",),
    ),
    task(
        "ho_pptx_five_slide_review",
        "pptx",
        "Make a 5-slide deck on our 2024 orders (orders.csv): a title slide, revenue per "
        "category (quantity × unit_price), number of orders per city, the top 3 products by "
        "quantity, and a closing slide.",
        "pptx",
        j.every(
            j.slides(5),
            j.values("pptx", lambda: group("orders.csv", "category", _plain)),
            j.values("pptx", lambda: group("orders.csv", "city", agg="count")),
            j.words("pptx", *ordered(group("orders.csv", "product", "quantity"))[:3]),
        ),
        ("orders.csv",),
    ),
    task(
        "ho_pptx_native_city_orders",
        "pptx",
        "One slide with a native (editable) bar chart of the number of orders for each city.",
        "pptx",
        _native_city_chart,
        ("orders.csv",),
    ),
    task(
        "ho_pptx_temperature_table",
        "pptx",
        "A slide with a table of the average, lowest and highest temperature for each city in "
        "temperatures.csv.",
        "pptx",
        j.rows_with("pptx", _temp_stats),
        ("temperatures.csv",),
    ),
    task(
        "ho_pptx_pitch_notes",
        "pptx",
        "A 3-slide pitch for Kestrel Labs' new noise-cancelling headset, with speaker notes on "
        "each slide.",
        "pptx",
        j.every(j.slides(3, notes=True), j.words("pptx", "Kestrel Labs")),
    ),
    task(
        "ho_multi_category_csv_chart",
        "multi",
        "Revenue per category (quantity × unit_price) from orders.csv as a CSV, plus a bar "
        "chart PNG of the same numbers.",
        "csv png",
        j.every(
            j.values("csv", lambda: group("orders.csv", "category", _plain)),
            j.bars("png", lambda: group("orders.csv", "category", _plain)),
        ),
        ("orders.csv",),
    ),
    task(
        "ho_multi_xlsx_pdf_salaries",
        "multi",
        "An Excel workbook of the employees with a per-department summary, and a one-page PDF "
        "listing each department's average salary.",
        "xlsx pdf",
        j.every(
            j.values("pdf", lambda: group("employees.csv", "department", "salary", "mean")),
            j.pages(1),
            _employee_book,
        ),
        ("employees.csv",),
    ),
    task(
        "ho_multi_json_docx_status",
        "multi",
        "Summarise tickets.json: a JSON with the number of tickets per status, and a short Word "
        "report quoting the same counts.",
        "json docx",
        j.every(
            j.values("json", lambda: group("tickets.json", "status", agg="count")),
            j.values("docx", lambda: group("tickets.json", "status", agg="count")),
        ),
        ("tickets.json",),
    ),
]
