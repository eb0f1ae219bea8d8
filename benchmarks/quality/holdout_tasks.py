"""HOLDOUT SPLIT — charts and data files. Run only to report (`run.py --split holdout`); never
read these prompts or checkers while changing the platform, or the split stops measuring
anything. New phrasings, inputs from datasets.py, expected content computed by expect.py."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import judge as j
from content import doc_lines, has_value, label_re
from expect import changes, column, group, month, ordered, rows, top
from task import Step, task


def _plain(r: dict[str, str]) -> float:
    return float(r["quantity"]) * float(r["unit_price"])


def _temps() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in rows("temperatures.csv"):
        out.setdefault(r["city"], []).append(float(r["temp_c"]))
    return out


def _prices() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in rows("stock_prices.csv"):
        out.setdefault(r["ticker"], []).append(float(r["close"]))
    return out


def _store_totals() -> dict[str, dict[str, float]]:
    from datasets import store_sales_rows

    out: dict[str, dict[str, float]] = {}
    for year in (2023, 2024):
        totals: dict[str, float] = {}
        for store, _q, sales in store_sales_rows(year):
            totals[store] = totals.get(store, 0.0) + sales
        out[str(year)] = totals
    return out


def _cumulative_2024() -> list[float]:
    monthly = column("web_traffic.csv", "revenue", lambda r: r["month"].startswith("2024"))
    return list(itertools.accumulate(monthly))


def _mom(out: Path) -> list[str]:
    """Each month's signups and its change from the month before, in percent (12.3 or 12.3 %)
    or as a fraction (0.123)."""
    lines, problems = doc_lines(out, "csv")
    if problems:
        return problems
    data = rows("web_traffic.csv")
    signups = [float(r["signups"]) for r in data]
    for r, change in zip(data, changes(signups), strict=True):
        pat = label_re(r["month"])
        line = next((x.casefold() for x in lines if pat.search(x.casefold())), None)
        if line is None:
            problems.append(f"no row for {r['month']}")
            continue
        rest = pat.sub(" ", line)
        if not has_value(rest, float(r["signups"])):
            problems.append(f"{r['month']}: signups {r['signups']} not in its row")
        elif change is not None and not (
            has_value(rest, change, 0.05) or has_value(rest, change / 100, 0.0005)
        ):
            problems.append(f"{r['month']}: change {change:.1f} % not in its row")
    return problems


def _no_discount() -> list[dict[str, str]]:
    return rows("orders.csv", lambda r: r["discount"] == "")


def _ids_only(out: Path) -> list[str]:
    lines, problems = doc_lines(out, "csv")
    if problems:
        return problems
    want = {r["order_id"] for r in _no_discount()}
    got = {m.group(0) for x in lines if (m := re.search(r"\bSO-\d+\b", x))}
    missing, extra = sorted(want - got), sorted(got - want)
    return ([f"missing orders {missing[:5]}"] if missing else []) + (
        [f"orders with a discount included: {extra[:5]}"] if extra else []
    )


def _others() -> str:
    """A pattern of the customers outside the top 3 by spend."""
    return "|".join(re.escape(c) for c in ordered(group("orders.csv", "customer", _plain))[3:])


_CLOSED = lambda r: r["status"] == "closed"  # noqa: E731
_PRIORITY = ["low", "medium", "high"]

TASKS = [
    task(
        "ho_bar_city_revenue_sorted",
        "chart",
        "From orders.csv, make a bar chart of total revenue (quantity times unit_price) per "
        "city, sorted from highest to lowest.",
        "png",
        j.bars("png", lambda: group("orders.csv", "city", _plain), order="desc"),
        ("orders.csv",),
    ),
    task(
        "ho_lines_per_city",
        "chart",
        "Plot the daily temperatures in temperatures.csv with one line per city and a legend.",
        "png",
        j.lines("png", _temps),
        ("temperatures.csv",),
    ),
    task(
        "ho_pie_channel_share",
        "chart",
        "A pie chart of the share of survey responses by channel, please.",
        "png",
        j.pie("png", lambda: group("survey.csv", "channel", agg="count")),
        ("survey.csv",),
    ),
    task(
        "ho_hbar_top5_quantity",
        "chart",
        "Show me the top 5 products by quantity sold as a horizontal bar chart, biggest first. "
        "Data is in orders.csv.",
        "svg",
        j.bars("svg", lambda: top(group("orders.csv", "product", "quantity"), 5), order="desc"),
        ("orders.csv",),
    ),
    task(
        "ho_line_visits_titled",
        "chart",
        "Line chart of website visits for every month in web_traffic.csv, titled "
        "'Website visits 2023-2024'.",
        "png",
        j.line("png", lambda: column("web_traffic.csv", "visits"), title=("Website visits",)),
        ("web_traffic.csv",),
    ),
    task(
        "ho_grouped_store_years",
        "chart",
        "Using store_sales.xlsx (one sheet per year), draw a grouped bar chart comparing each "
        "store's total sales in 2023 and 2024, with a legend showing the years.",
        "png",
        j.grouped("png", _store_totals),
        ("store_sales.xlsx",),
    ),
    task(
        "ho_hist_salaries",
        "chart",
        "Histogram of the salaries in employees.csv using 8 bins.",
        "png",
        j.histogram("png", 40, 8),
        ("employees.csv",),
    ),
    task(
        "ho_bar_avg_satisfaction",
        "chart",
        "What is the average satisfaction score for each channel? Answer with a bar chart.",
        "png",
        j.bars("png", lambda: group("survey.csv", "channel", "satisfaction", "mean")),
        ("survey.csv",),
    ),
    task(
        "ho_compare_tickers_svg",
        "chart",
        "Compare the closing prices of the three tickers over time in a single line chart "
        "(stock_prices.csv).",
        "svg",
        j.lines("svg", _prices),
        ("stock_prices.csv",),
    ),
    task(
        "ho_bar_tickets_per_team",
        "chart",
        "How many tickets did each team get? Make a bar chart from tickets.json.",
        "png",
        j.bars("png", lambda: group("tickets.json", "team", agg="count")),
        ("tickets.json",),
    ),
    task(
        "ho_bar_resolution_priority",
        "chart",
        "Bar chart of the mean resolution time in hours per priority, closed tickets only, "
        "with the bars in the order low, medium, high.",
        "png",
        j.bars(
            "png",
            lambda: {
                p: group("tickets.json", "priority", "resolution_hours", "mean", _CLOSED)[p]
                for p in _PRIORITY
            },
            order="given",
        ),
        ("tickets.json",),
    ),
    task(
        "ho_pie_headcount_svg",
        "chart",
        "Pie chart: headcount by department, from the employee list.",
        "svg",
        j.pie("svg", lambda: group("employees.csv", "department", agg="count")),
        ("employees.csv",),
    ),
    task(
        "ho_line_cumulative_revenue",
        "chart",
        "Line chart of cumulative revenue month by month through 2024 (web_traffic.csv has the "
        "monthly revenue).",
        "png",
        j.line("png", _cumulative_2024),
        ("web_traffic.csv",),
    ),
    task(
        "ho_csv_city_quantity",
        "data",
        "Export a CSV with one line per city: the city, the number of orders and the total "
        "quantity, sorted by total quantity with the highest first.",
        "csv",
        j.every(
            j.values("csv", lambda: group("orders.csv", "city", "quantity"), order="desc"),
            j.values("csv", lambda: group("orders.csv", "city", agg="count"), what="orders "),
            j.row_count("csv", lambda: len(group("orders.csv", "city", agg="count"))),
        ),
        ("orders.csv",),
    ),
    task(
        "ho_json_team_stats",
        "data",
        "Give me a JSON file that has, for each team in tickets.json, the number of tickets, how "
        "many are still open, and the average resolution hours of the closed ones.",
        "json",
        j.rows_with(
            "json",
            lambda: {
                team: [
                    n,
                    group(
                        "tickets.json", "team", agg="count", where=lambda r: r["status"] == "open"
                    ).get(team, 0),
                    group("tickets.json", "team", "resolution_hours", "mean", _CLOSED)[team],
                ]
                for team, n in group("tickets.json", "team", agg="count").items()
            },
        ),
        ("tickets.json",),
    ),
    task(
        "ho_parquet_monthly_orders",
        "data",
        "Monthly order totals for 2024 as a Parquet file: month, number of orders, revenue "
        "(quantity * unit_price).",
        "parquet",
        j.every(
            j.rows_with(
                "parquet",
                lambda: {m: [c, rev] for m, c, rev in _monthly()},
                aliases=lambda: j.month_aliases([m for m, _, _ in _monthly()]),
            ),
            j.row_count("parquet", lambda: 12),
        ),
        ("orders.csv",),
    ),
    task(
        "ho_csv_signups_mom",
        "data",
        "CSV of monthly signups with the month-over-month change in percent.",
        "csv",
        _mom,
        ("web_traffic.csv",),
    ),
    task(
        "ho_csv_missing_discount",
        "data",
        "Pull out the orders where the discount is missing (blank) into a CSV with the same "
        "columns.",
        "csv",
        j.every(_ids_only, j.row_count("csv", lambda: len(_no_discount()))),
        ("orders.csv",),
    ),
    task(
        "ho_json_top3_customers",
        "data",
        "Top 3 customers by total spend (quantity × unit price) as JSON, largest first, with "
        "their totals.",
        "json",
        j.every(
            j.values("json", lambda: top(group("orders.csv", "customer", _plain), 3), order="desc"),
            j.no_text("json", _others(), "not in the top 3"),
        ),
        ("orders.csv",),
    ),
    task(
        "ho_csv_salary_by_department",
        "data",
        "Average and median salary broken down by department, as a CSV.",
        "csv",
        j.rows_with(
            "csv",
            lambda: {
                d: [mean, group("employees.csv", "department", "salary", "median")[d]]
                for d, mean in group("employees.csv", "department", "salary", "mean").items()
            },
        ),
        ("employees.csv",),
    ),
    task(
        "ho_session_furniture_ascending",
        "session",
        "CSV of the total quantity sold per product from orders.csv.",
        "csv",
        j.values("csv", lambda: group("orders.csv", "product", "quantity")),
        ("orders.csv",),
        then=Step(
            "Now keep only the Furniture products and sort them from lowest to highest.",
            ("csv",),
            j.every(
                j.values(
                    "csv",
                    lambda: group(
                        "orders.csv",
                        "product",
                        "quantity",
                        where=lambda r: r["category"] == "Furniture",
                    ),
                    order="asc",
                ),
                j.row_count("csv", lambda: 3),
            ),
        ),
    ),
]


def _monthly() -> list[tuple[str, float, float]]:
    """(month, orders, revenue) of each month of orders.csv (an order is a row)."""
    by_month: dict[str, list[float]] = {}
    for r in rows("orders.csv"):
        by_month.setdefault(month(r), []).append(_plain(r))
    return [(m, float(len(v)), sum(v)) for m, v in sorted(by_month.items())]
