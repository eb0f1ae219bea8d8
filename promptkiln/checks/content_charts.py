"""Does a chart draw the numbers its data gives? Judged on what matplotlib drew.

Input: a :class:`~promptkiln.checks.content_expected.Spec` with its
:class:`~promptkiln.checks.content_expected.Expected` values, and the axes the chart-facts hook
recorded for the file (:mod:`promptkiln.checks.chart_facts`). Output: None when the chart shows
them, else one sentence of what it shows instead, for the user and the repair prompt:

    "it shows East=1200, West=800 (expected East=3400, West=2100)"

Bar charts are read by category (the categorical axis or the tick labels under the bars), each
bar container as a series; lines by x label or, when x is a date or number axis, by their values;
pies by wedge label and fraction. A chart the hook saw nothing of is not judged here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from promptkiln.checks.content_expected import Expected, Spec
from promptkiln.checks.content_points import NOTHING as _NOTHING
from promptkiln.checks.content_points import histogram, scatter
from promptkiln.checks.numeric import close, norm_label, show

BAR_KINDS = ("bar", "barh", "stacked_bar", "grouped_bar")


def check_chart(spec: Spec, expected: Expected, axes: Sequence[dict[str, Any]]) -> str | None:
    """None when some axes of ``axes`` draws ``expected``; else what the closest one shows."""
    if expected.error or not axes:
        return None
    if spec.kind in BAR_KINDS:
        judge = _bars
    elif spec.kind == "line":
        judge = _lines
    elif spec.kind == "pie":
        judge = _pie
    elif spec.kind == "scatter":
        judge = scatter
    elif spec.kind == "hist":
        judge = histogram
    else:
        return None  # area: its title and labels are still checked
    problems = [judge(spec, expected, ax) for ax in axes]
    if any(p is None for p in problems):
        return None
    drawn = [p for p in problems if p != _NOTHING]
    return drawn[0] if drawn else f"no {spec.noun()} was drawn"


# -- comparing a drawn mapping with the expected one ---------------------------------------------


def compare(drawn: dict[str, float], want: dict[str, float]) -> str | None:
    """None when every expected label is drawn with its value (extra labels are tolerated
    only when every expected one is right)."""
    if not want:
        return None
    by_label = {norm_label(k): v for k, v in drawn.items()}
    missing = [k for k in want if norm_label(k) not in by_label]
    wrong = {
        k: by_label[norm_label(k)]
        for k in want
        if norm_label(k) in by_label and not close(by_label[norm_label(k)], want[k])
    }
    if not missing and not wrong:
        return None
    # labels the reader cannot map (numbers on a date axis): compare the values alone
    unmapped = missing and len(missing) == len(want) and len(drawn) == len(want)
    if unmapped and _same_values(list(drawn.values()), list(want.values())):
        return None
    if missing and len(missing) == len(want):
        return f"it shows {show(drawn)} (expected {show(want)})"
    parts = []
    if wrong:
        parts.append(f"it shows {show(wrong)} (expected {show({k: want[k] for k in wrong})})")
    if missing:
        parts.append(f"{', '.join(missing[:6])} {'is' if len(missing) == 1 else 'are'} missing")
    return "; ".join(parts)


def top(drawn: dict[str, float], expected: Expected) -> dict[str, float]:
    """The expected values a sorted chart must show: all of them, or, when it shows fewer, the
    first as many of the expected order ("the 5 highest")."""
    shown = {norm_label(k) for k in drawn}
    first = expected.order[: len(drawn)]
    if 0 < len(drawn) < len(expected.values) and {norm_label(k) for k in first} == shown:
        return {k: expected.values[k] for k in first if k in expected.values}
    return expected.values


def _same_values(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(close(x, y) for x, y in zip(sorted(a), sorted(b), strict=True))


# -- bars ----------------------------------------------------------------------------------------


def _bar_series(ax: dict[str, Any]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    out = []
    legend = [str(t) for t in ax.get("legend") or []]
    for i, container in enumerate(ax.get("bars") or []):
        bars = [b for b in container.get("bars") or [] if isinstance(b, dict)]
        name = container.get("label") or (legend[i] if i < len(legend) else None)
        if bars:
            out.append((name, bars))
    return out


def _mapping(bars: list[dict[str, Any]]) -> dict[str, float]:
    drawn: dict[str, float] = {}
    for i, b in enumerate(sorted(bars, key=lambda b: b.get("pos") or 0.0)):
        value = b.get("value")
        if isinstance(value, int | float):
            drawn[str(b.get("category") if b.get("category") is not None else f"#{i + 1}")] = value
    return drawn


def _bars(spec: Spec, expected: Expected, ax: dict[str, Any]) -> str | None:
    series = _bar_series(ax)
    if not series:
        return _NOTHING
    if expected.series:
        return _per_series(spec, expected, [(n, _mapping(b)) for n, b in series], "bar groups")
    drawn: dict[str, float] = {}
    for _, bars in series:
        for label, value in _mapping(bars).items():
            drawn[label] = drawn.get(label, 0.0) + value  # a stacked single series adds up
    problem = compare(drawn, top(drawn, expected) if spec.sort != "none" else expected.values)
    if problem is None and spec.sort in ("asc", "desc"):
        problem = _order(series[0][1], spec.sort, horizontal=spec.kind == "barh")
    return problem


def _order(bars: list[dict[str, Any]], sort: str, *, horizontal: bool) -> str | None:
    ordered = sorted(bars, key=lambda b: b.get("pos") or 0.0)
    values = [float(b["value"]) for b in ordered if isinstance(b.get("value"), int | float)]
    labels = [str(b.get("category")) for b in ordered]

    def monotone(vals: list[float], desc: bool) -> bool:
        return all((a >= b) if desc else (a <= b) for a, b in pairwise(vals))

    want_desc = sort == "desc"
    if monotone(values, want_desc) or (horizontal and monotone(values[::-1], want_desc)):
        return None
    word = "highest first" if want_desc else "lowest first"
    return f"the bars are not sorted {word}: they go {', '.join(labels[:8])}"


def _per_series(
    spec: Spec, expected: Expected, drawn: list[tuple[str | None, dict[str, float]]], what: str
) -> str | None:
    want = expected.series
    if len(drawn) < len(want):
        return (
            f"it draws {len(drawn)} {what[:-1] if len(drawn) == 1 else what}, expected "
            f"{len(want)}, one per {spec.series or 'column'}: {', '.join(list(want)[:8])}"
        )
    by_name = {norm_label(n): m for n, m in drawn if n}
    problems = []
    unnamed = [m for n, m in drawn if not n or norm_label(n) not in {norm_label(k) for k in want}]
    for name, values in want.items():
        mapping = by_name.get(norm_label(name))
        if mapping is None:
            # no legend entry: some unnamed series must show these values
            if any(compare(m, values) is None for m in unnamed):
                continue
            problems.append(f"no series {name!r} with {show(values, 4)}")
            continue
        problem = compare(mapping, values)
        if problem is not None:
            problems.append(f"series {name!r}: {problem}")
    return "; ".join(problems[:3]) if problems else None


# -- lines and pies ------------------------------------------------------------------------------


def _line_mapping(line: dict[str, Any]) -> dict[str, float]:
    xs, ys = line.get("x") or [], line.get("y") or []
    out: dict[str, float] = {}
    for i, (x, y) in enumerate(zip(xs, ys, strict=False)):
        if isinstance(y, int | float):
            key = x if isinstance(x, str) else (f"{x:g}" if isinstance(x, int | float) else i)
            out[str(key)] = float(y)
    return out


def _lines(spec: Spec, expected: Expected, ax: dict[str, Any]) -> str | None:
    lines = [ln for ln in ax.get("lines") or [] if ln.get("y")]
    if not lines:
        return _NOTHING
    legend = [str(t) for t in ax.get("legend") or []]
    named = [
        (ln.get("label") or (legend[i] if i < len(legend) else None), _line_mapping(ln))
        for i, ln in enumerate(lines)
    ]
    if expected.series:
        return _per_series(spec, expected, named, "lines")
    problems = [compare(m, expected.values) for _, m in named]
    right = [ln for ln, p in zip(lines, problems, strict=True) if p is None]
    if right:
        orders = [_line_order(ln, expected) for ln in right]
        return None if any(o is None for o in orders) else orders[0]
    return problems[0]


#: Labels whose text order is their time order: years, ISO dates and months, quarters.
_TIME_LABEL = re.compile(r"\d{4}(?:-\d\d(?:-\d\d)?|\s?-?Q[1-4])?(?:[ T][\d:.]+)?")


def _line_order(line: dict[str, Any], expected: Expected) -> str | None:
    """None when the line goes through its points in the data's order (or, for years,
    dates and periods, in time order); else where it goes. A line through months sorted
    alphabetically (Apr, Aug, Dec, …) has every right value and says nothing true."""
    points = [
        (x, float(y))
        for x, y in zip(line.get("x") or [], line.get("y") or [], strict=False)
        if isinstance(y, int | float)
    ]
    want = [k for k in expected.order if expected.values.get(k) is not None]
    if len(points) != len(want) or len(want) < 3:
        return None
    orders = [want]
    if all(_TIME_LABEL.fullmatch(k.strip()) for k in want):
        orders.append(sorted(want, key=lambda k: k.strip()))
    if all(isinstance(x, str) for x, _ in points):
        drawn = [norm_label(x) for x, _ in points]
        if set(drawn) != {norm_label(k) for k in want}:
            return None  # labels written otherwise: the values matched, the order is unknown
        if any(drawn == [norm_label(k) for k in o] for o in orders):
            return None
        shown = [str(x) for x, _ in points]
    else:
        if not all(isinstance(x, int | float) for x, _ in points):
            return None
        ys = [y for _, y in sorted(points, key=lambda p: float(p[0]))]
        if any(all(close(y, expected.values[k]) for y, k in zip(ys, o, strict=True))
               for o in orders):  # fmt: skip
            return None
        by_value = {k: expected.values[k] for k in want}
        shown = [next((k for k, v in by_value.items() if close(y, v)), f"{y:g}") for y in ys]
    return (
        f"the line goes through {', '.join(shown[:6])}, …: not the data's order "
        f"({', '.join(want[:6])}, …); keep the rows in their order (groupby(..., sort=False))"
    )


def _pie(spec: Spec, expected: Expected, ax: dict[str, Any]) -> str | None:
    wedges = [w for w in ax.get("wedges") or [] if isinstance(w.get("fraction"), int | float)]
    if not wedges:
        return _NOTHING
    total = sum(v for v in expected.values.values() if v > 0)
    if total <= 0:
        return None
    want = {k: 100 * v / total for k, v in expected.values.items() if v > 0}
    drawn = {
        str(w.get("label") if w.get("label") is not None else f"#{i + 1}"): 100 * w["fraction"]
        for i, w in enumerate(wedges)
    }
    problem = compare(drawn, want)
    if problem is None:
        return None
    return problem.replace("it shows", "its slices are (in %)", 1)
