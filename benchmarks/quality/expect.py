"""Expected content computed from the inputs by the checkers' own code (never typed in).

Grouped totals, means and counts, sort orders, top N, period-over-period changes: the numbers a
right file has to show, from the same seeded inputs the task hands to the pipeline.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable

from inputs import table

Row = dict[str, str]


def num(text: str | float | int | None) -> float | None:
    """A cell as a reader reads it: "1,234.50", "$1234.5", " 12 " are numbers; "" is none."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    cleaned = str(text).strip().replace(",", "").replace("\u00a0", "").lstrip("$€£").strip()
    if cleaned.endswith("%"):
        cleaned = cleaned[:-1]
    try:
        return float(cleaned)
    except ValueError:
        return None


def rows(name: str, where: Callable[[Row], bool] | None = None) -> list[Row]:
    found = table(name)
    return [r for r in found if where is None or where(r)]


def line_total(row: Row) -> float:
    """quantity x unit_price x (1 - discount) of an orders.csv row; a missing discount is 0."""
    discount = num(row["discount"]) or 0.0
    return float(row["quantity"]) * float(row["unit_price"]) * (1 - discount)


Aggregate = str  # "sum" | "mean" | "count" | "min" | "max" | "median"


def group(
    name: str,
    by: str,
    value: str | Callable[[Row], float] | None = None,
    agg: Aggregate = "sum",
    where: Callable[[Row], bool] | None = None,
) -> dict[str, float]:
    """``agg`` of ``value`` per distinct ``by``; rows whose value is empty are left out (what
    pandas does with NaN); ``count`` counts rows."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows(name, where):
        if agg == "count":
            groups[r[by]].append(1.0)
            continue
        v = value(r) if callable(value) else num(r[value or ""])
        if v is not None:
            groups[r[by]].append(v)
    return {k: aggregate(vs, agg) for k, vs in groups.items()}


def aggregate(values: Iterable[float], agg: Aggregate) -> float:
    vs = list(values)
    funcs: dict[str, Callable[[list[float]], float]] = {
        "sum": lambda v: float(sum(v)),
        "count": lambda v: float(len(v)),
        "mean": statistics.mean,
        "median": statistics.median,
        "min": min,
        "max": max,
    }
    return funcs[agg](vs)


def column(name: str, col: str, where: Callable[[Row], bool] | None = None) -> list[float]:
    return [v for r in rows(name, where) if (v := num(r[col])) is not None]


def ordered(values: dict[str, float], descending: bool = True) -> list[str]:
    """Labels by value (ties by label, so the order is one answer)."""
    sign = -1 if descending else 1
    return sorted(values, key=lambda k: (sign * values[k], k))


def top(values: dict[str, float], n: int, descending: bool = True) -> dict[str, float]:
    return {k: values[k] for k in ordered(values, descending)[:n]}


def shares(values: dict[str, float]) -> dict[str, float]:
    """Each value's share of the total, in percent."""
    total = sum(values.values())
    return {k: 100 * v / total for k, v in values.items()}


def changes(values: list[float]) -> list[float | None]:
    """Percent change of each value from the one before (None for the first)."""
    return [None, *(100 * (b - a) / a for a, b in itertools.pairwise(values))]


def month(row: Row, col: str = "order_date") -> str:
    """ "2024-03" of a "2024-03-17" date."""
    return row[col][:7]
