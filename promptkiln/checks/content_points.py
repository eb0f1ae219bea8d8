"""Charts of the rows themselves: does a scatter plot draw the input's points, and a histogram
count the input's values? Judged on what matplotlib drew, as the other chart checks are.

A scatter plot of ``x`` against ``y`` must draw only points that are (x, y) pairs of the input's
rows: a plot of other columns, or of numbers the script made up, has points no row holds.
(Either orientation passes; a subset passes too, so a filtered plot is not judged wrong.) The
expected pairs come from our own script in the sandbox (:mod:`promptkiln.checks.expected_script`);
when the input has more rows than it sends, the points are only required to lie within the two
columns' ranges.

A histogram of a column must count every value of it: its bars add up to the column's count of
numbers (unless it is a density) and its bins span the column's smallest and largest value. A
histogram of another column, or of a sum or a sample, does not. Bars drawn per value (a bar
chart of value counts) are read by their labels.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from promptkiln.checks.content_expected import Expected, Spec
from promptkiln.checks.numeric import fmt

NOTHING = "nothing"


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _near(a: float, b: float, scale: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9 + 1e-9 * scale)


# -- scatter -------------------------------------------------------------------------------------


def drawn_points(ax: dict[str, Any]) -> list[tuple[float, float]]:
    """The scatter points of an axes, or, without any, the points of its number-valued lines
    (``plt.plot(x, y, "o")``)."""
    points = []
    for coll in ax.get("scatter") or []:
        for p in coll.get("points") or [] if isinstance(coll, dict) else []:
            if isinstance(p, list) and len(p) == 2:
                x, y = _num(p[0]), _num(p[1])
                if x is not None and y is not None:
                    points.append((x, y))
    if points:
        return points
    for line in ax.get("lines") or []:
        xs, ys = line.get("x") or [], line.get("y") or []
        pairs = [(_num(x), _num(y)) for x, y in zip(xs, ys, strict=False)]
        if pairs and all(x is not None and isinstance(raw, int | float) for (x, _), raw in
                         zip(pairs, xs, strict=False)):  # fmt: skip
            points += [(x, y) for x, y in pairs if x is not None and y is not None]
    return points


def scatter(spec: Spec, expected: Expected, ax: dict[str, Any]) -> str | None:
    if not expected.pairs:
        return None  # the columns are not both numbers: not judged
    points = drawn_points(ax)
    if not points:
        return NOTHING
    pairs = expected.pairs
    scale = max(abs(v) for p in pairs for v in p) or 1.0
    if expected.pairs_all:
        keys = {_key(x, y) for x, y in pairs}

        def held(x: float, y: float) -> bool:
            return _key(x, y) in keys or any(
                _near(x, a, scale) and _near(y, b, scale) for a, b in pairs
            )
    else:
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        lo_x, hi_x, lo_y, hi_y = min(xs), max(xs), min(ys), max(ys)

        def held(x: float, y: float) -> bool:
            return lo_x - 1e-9 * scale <= x <= hi_x + 1e-9 * scale and (
                lo_y - 1e-9 * scale <= y <= hi_y + 1e-9 * scale
            )

    stray = [p for p in points if not held(*p)]
    if not stray:
        return None
    if not [p for p in points if not held(p[1], p[0])]:
        return None  # drawn the other way round: y against x
    rows = "row" if expected.pairs_all else "row's range"
    return (
        f"{len(stray)} of its {len(points)} points are not ({spec.x}, {spec.y}) pairs of the "
        f"input (e.g. ({fmt(stray[0][0])}, {fmt(stray[0][1])}), which no {rows} holds); plot "
        f"the column {spec.x} against {spec.y}, one point per row"
    )


def _key(x: float, y: float) -> tuple[float, float]:
    return (float(f"{x:.9g}"), float(f"{y:.9g}"))


# -- histogram -----------------------------------------------------------------------------------


def histogram(spec: Spec, expected: Expected, ax: dict[str, Any]) -> str | None:
    count, low, high = (expected.values.get(k) for k in ("count", "min", "max"))
    if count is None or low is None or high is None or count <= 0:
        return None
    bars = [
        b
        for container in ax.get("bars") or []
        for b in container.get("bars") or []
        if isinstance(b, dict) and _num(b.get("value")) is not None
    ]
    if not bars:
        return NOTHING
    heights = [float(b["value"]) for b in bars]
    total = sum(heights)
    counts = all(abs(h - round(h)) < 1e-9 for h in heights)
    scale = max(abs(low), abs(high), 1.0)
    spans = sorted(
        (float(b.get("pos") or 0.0), abs(float(b.get("width") or 0.0)) / 2, b) for b in bars
    )
    labels = [_num(b.get("category")) for _, _, b in spans]
    gaps = any(
        p1 - w1 > p0 + w0 + 1e-6 * max(w0, 1e-9) for (p0, w0, _), (p1, w1, _) in pairwise(spans)
    )
    if gaps and all(v is not None for v in labels):  # a bar per value, named by its value
        outside = [
            v
            for v in labels
            if v is not None and not low - 1e-9 * scale <= v <= high + 1e-9 * scale
        ]
        if outside:
            return (
                f"its bars are at {fmt(outside[0])}, outside {spec.y}'s values "
                f"({fmt(low)} to {fmt(high)})"
            )
    else:
        left = min(p - w for p, w, _ in spans)
        right = max(p + w for p, w, _ in spans)
        if left > low + 1e-6 * scale or right < high - 1e-6 * scale:
            return (
                f"its bins span {fmt(left)} to {fmt(right)}, not all of {spec.y} "
                f"({fmt(low)} to {fmt(high)}); draw the histogram of {spec.y}'s values"
            )
    if counts and abs(total - count) > 0.5:
        return (
            f"its bars count {fmt(total)} values, {spec.y} has {fmt(count)}; draw the "
            f"histogram of every value of {spec.y} (ax.hist(df[{spec.y!r}].dropna()))"
        )
    return None
