"""PNG and SVG charts, from numbers in the prompt and from CSV inputs."""

from __future__ import annotations

from pathlib import Path

from checks import has_text, image_colors, need, size_is, svg_text
from inputs import table
from task import task


def _png(out: Path, name: str | None = None) -> list[str]:
    path, problems = need(out, "png", name)
    if path is None:
        return problems
    return [] if image_colors(path) > 8 else [f"{path.name} is nearly blank"]


def bar_numbers(out: Path) -> list[str]:
    return _png(out)


def line_size(out: Path) -> list[str]:
    path, problems = need(out, "png")
    return problems if path is None else size_is(path, 1200, 600) + _png(out)


def pie_svg(out: Path) -> list[str]:
    path, problems = need(out, "svg")
    return problems if path is None else has_text(svg_text(path), "Market Share")


def scatter_svg(out: Path) -> list[str]:
    path, problems = need(out, "svg")
    return problems if path is None else has_text(svg_text(path), "x", "y")


def grouped(out: Path) -> list[str]:
    return _png(out, "regions.png")


def two_files(out: Path) -> list[str]:
    return _png(out, "revenue.png") + _png(out, "trend.png")


def histogram(out: Path) -> list[str]:
    path, problems = need(out, "png")
    return problems if path is None else size_is(path, 800, 400)


def top5(out: Path) -> list[str]:
    path, problems = need(out, "svg")
    if path is None:
        return problems
    best = max(table("products.csv"), key=lambda r: int(r["units"]))["product"]
    return has_text(svg_text(path), "Top 5 Products", best)


CHART_SOLUTION = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
df = pd.read_csv("inputs/monthly.csv")
fig, ax = plt.subplots(figsize=(12, 6), dpi=100)
ax.plot(df["month"], df["visitors"], marker="o")
ax.set_title("Visitors by month")
fig.savefig("visitors.png")
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
        solution=CHART_SOLUTION,
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
