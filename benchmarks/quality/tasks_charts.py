"""PNG and SVG charts, from numbers in the prompt and from CSV inputs."""

from __future__ import annotations

from pathlib import Path

import facts
import judge as j
from checks import image_colors, need, size_is, svg_labels
from expect import top
from inputs import table
from task import task


def _png(out: Path, name: str | None = None) -> list[str]:
    path, problems = need(out, "png", name)
    if path is None:
        return problems
    return [] if image_colors(path) > 8 else [f"{path.name} is nearly blank"]


def bar_numbers(out: Path) -> list[str]:
    """Four bars, Q1..Q4, at 2.1/2.8/3.2/3.9 (in millions, or written out in full)."""
    axes, problems = facts.chart(out, "png")
    if problems:
        return problems
    want = dict(zip(("Q1", "Q2", "Q3", "Q4"), (2.1, 2.8, 3.2, 3.9), strict=True))
    in_full = {k: v * 1e6 for k, v in want.items()}
    found = facts.bars(axes, want, list(want))
    if found and not facts.bars(axes, in_full, list(want)):
        found = []
    return found + facts.titled(axes, "Quarterly Revenue 2024")


def line_size(out: Path) -> list[str]:
    path, problems = need(out, "png")
    if path is None:
        return problems
    visitors = [float(r["visitors"]) for r in table("monthly.csv")]
    return size_is(path, 1200, 600) + j.line("png", lambda: visitors)(out)


def pie_svg(out: Path) -> list[str]:
    return j.pie("svg", lambda: {"Alpha": 40, "Beta": 35, "Gamma": 25}, ("Market Share",))(out)


def scatter_svg(out: Path) -> list[str]:
    path, problems = need(out, "svg")
    if path is None:
        return problems
    labels = {x.casefold() for x in svg_labels(path)}  # "x" alone, not any letter x
    return [f"no axis label {a!r}" for a in ("x", "y") if a not in labels]


def _quarters() -> dict[str, dict[str, float]]:
    rows = table("sales_by_region.csv")
    return {q: {r["region"]: float(r[q]) for r in rows} for q in ("q1", "q2", "q3", "q4")}


def grouped(out: Path) -> list[str]:
    """A bar series per quarter over the regions, or one per region over the quarters."""
    axes, problems = facts.chart(out, "png", "regions.png")
    if problems:
        return problems
    by_quarter = _quarters()
    by_region: dict[str, dict[str, float]] = {}
    for q, values in by_quarter.items():
        for region, v in values.items():
            by_region.setdefault(region, {})[q] = v
    one = facts.grouped(axes, by_quarter)
    return [] if not one or not facts.grouped(axes, by_region) else one


_MONTHS = {"Jan": 10.0, "Feb": 12.0, "Mar": 9.0, "Apr": 15.0}


def two_files(out: Path) -> list[str]:
    bars = j.bars("png", lambda: _MONTHS, name="revenue.png")(out)
    axes, problems = facts.chart(out, "png", "trend.png")
    return bars + (problems or facts.line(axes, list(_MONTHS.values())))


def histogram(out: Path) -> list[str]:
    path, problems = need(out, "png")
    if path is None:
        return problems
    return size_is(path, 800, 400) + j.histogram("png", len(table("scores.csv")), 10)(out)


def top5(out: Path) -> list[str]:
    units = {r["product"]: float(r["units"]) for r in table("products.csv")}
    return j.bars("svg", lambda: top(units, 5), order="desc", title=("Top 5 Products",))(out)


SCATTER_SOLUTION = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
df = pd.read_csv("inputs/measurements.csv")
slope, intercept = np.polyfit(df["x"], df["y"], 1)
fig, ax = plt.subplots()
ax.scatter(df["x"], df["y"])
ax.plot(df["x"], slope * df["x"] + intercept, color="red")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("y against x")
fig.savefig("scatter.svg")
"""

TASKS = [
    task(
        "chart_bar_numbers",
        "chart",
        "Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M, titled "
        "'Quarterly Revenue 2024', with the values on top of the bars",
        "png",
        bar_numbers,
    ),
    task(
        "chart_line_size",
        "chart",
        "Line chart of visitors by month from the CSV, 1200x600 pixels, with markers",
        "png",
        line_size,
        ("monthly.csv",),
    ),
    task(
        "chart_pie_svg",
        "chart",
        "Pie chart of market share (Alpha 40%, Beta 35%, Gamma 25%) with percentages on the "
        "slices and the title 'Market Share'",
        "svg",
        pie_svg,
    ),
    task(
        "chart_scatter_svg",
        "chart",
        "Scatter plot of y against x from measurements.csv with a linear trend line; label "
        "the axes x and y",
        "svg",
        scatter_svg,
        ("measurements.csv",),
        solution=SCATTER_SOLUTION,
    ),
    task(
        "chart_grouped_bar",
        "chart",
        "Grouped bar chart comparing q1 to q4 revenue for each region in the CSV, with a "
        "legend; save it as regions.png",
        "png",
        grouped,
        ("sales_by_region.csv",),
    ),
    task(
        "chart_two_files",
        "chart",
        "Make two charts of this data: Jan 10, Feb 12, Mar 9, Apr 15 — a bar chart saved as "
        "revenue.png and a line chart saved as trend.png",
        "png",
        two_files,
    ),
    task(
        "chart_histogram_size",
        "chart",
        "Histogram of the score column of scores.csv with 10 bins, 800x400 pixels",
        "png",
        histogram,
        ("scores.csv",),
    ),
    task(
        "chart_top5_svg",
        "chart",
        "Horizontal bar chart of the top 5 products by units from products.csv, largest at "
        "the top, titled 'Top 5 Products'",
        "svg",
        top5,
        ("products.csv",),
    ),
]
