"""An order the request asks for in so many words is an order of the plan.

"Cheapest first", "from highest to lowest", "in descending order", "the top 5": a bar chart or
table that keeps the input's order answers another request, however right its numbers. When
the request states an order and its direction can be read, a plan whose bar charts and tables
sort nothing (or sort the other way) has a problem about the data's meaning; "sorted by" or
"ranked" without a direction needs some order. Line and area charts keep their x axis' order
and are left alone, and so are words that ask a question rather than an order ("which region
sold the most").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from promptkiln.plan import Plan, Profile

_HIGH = (
    r"(?:highest|largest|biggest|greatest|most(?: expensive)?|priciest|best|top|longest|heaviest)"
)
_LOW = r"(?:lowest|smallest|fewest|least(?: expensive)?|cheapest|worst|bottom|shortest|lightest)"
#: (pattern, direction): "desc" highest first, "asc" lowest first, "any" an order of some kind.
_ORDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b{_HIGH} (?:\w+ )?first\b|\bfrom (?:the )?{_HIGH}\b(?: \w+)? to (?:the )?{_LOW}\b"
                r"|\b(?:in )?(?:descending|decreasing)(?: order)?\b|\btop \d+\b|\btop (?:five|ten|three)\b"), "desc"),
    (re.compile(rf"\b{_LOW} (?:\w+ )?first\b|\bfrom (?:the )?{_LOW}\b(?: \w+)? to (?:the )?{_HIGH}\b"
                r"|\b(?:in )?(?:ascending|increasing)(?: order)?\b|\bbottom \d+\b"), "asc"),
    (re.compile(r"\b(?:sort|rank)(?:ed|s)? (?:(?:the|all|its|their) )?(?:\w+ )?by "
                r"(?:the |their |its )?(?P<by>\w+)|\branked\b|\branking\b"), "any"),
)  # fmt: skip
#: "sorted by date", "by name": an order of labels or time, not of value.
_NOT_VALUES = frozenset({"date", "dates", "time", "month", "year", "day", "week", "name", "names"})
#: Chart kinds whose order is one of value; a line or area keeps its x axis' order.
_SORTABLE = ("bar", "barh", "stacked_bar", "grouped_bar", "pie")


def asked_order(prompt: str, labels: Sequence[str] = ()) -> str | None:
    """ "desc", "asc" or "any" when the request asks for an order by value, else None; "asc"
    and "desc" both stated (two lists) read as "any". "Sorted by X" is no order by value when
    X is a date or a name, or one of ``labels`` (the inputs' text and date columns)."""
    text = " ".join(prompt.lower().split())
    not_values = _NOT_VALUES | {
        " ".join(label.lower().replace("_", " ").split()) for label in labels
    }
    found = set()
    for pattern, way in _ORDERS:
        for m in pattern.finditer(text):
            by = m.groupdict().get("by")
            if by is None or (by not in not_values and by.rstrip("s") not in not_values):
                found.add(way)
                break
    if {"asc", "desc"} <= found:
        return "any"
    return next((way for way in ("desc", "asc", "any") if way in found), None)


def unordered(plan: Plan, prompt: str, profile: Profile | None = None) -> list[str]:
    """The problem of a plan whose bar charts and tables keep no order the request asks for."""
    labels = [
        c.name for i in (profile.inputs if profile else []) for t in i.tables for c in t.columns
        if c.dtype in ("text", "date")
    ]  # fmt: skip
    way = asked_order(prompt, labels)
    if way is None:
        return []
    items = [(f.name, c.title, c.sort) for f in plan.files for c in f.charts if c.kind in _SORTABLE]
    items += [
        (f.name, "table", t.sort)
        for f in plan.files
        for t in f.tables
        if t.agg != "none" or t.group
    ]
    if not items:
        return []
    if any(sort != "none" and (way == "any" or sort == way) for _, _, sort in items):
        return []
    name, what, sort = items[0]
    wanted = {"desc": '"desc" (highest first)', "asc": '"asc" (lowest first)'}.get(
        way, '"desc" or "asc"'
    )
    said = "sorts the other way" if sort != "none" else "keeps the input's order"
    return [
        f'the request asks for an order and {name}\'s {what!r} {said}: set "sort": {wanted} '
        "on the chart or table that shows it"
    ]
