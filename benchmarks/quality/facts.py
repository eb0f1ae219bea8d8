"""What a chart drew, from the platform's chart facts (never from pixels).

The platform's sandbox hook records what matplotlib drew for each saved figure; run.py writes
the facts it finds in the run's result next to the step's output directory
(``out1.facts.json``: a list, one entry per chart file). A chart without facts is not verified,
and a task that needs them fails. Shape of one entry::

    {"file": "chart.png", "axes": [{"title": str, "xlabel": str, "ylabel": str,
      "legend": [str], "bars": [{"label": str, "x": [str], "heights": [float]}],
      "lines": [{"label": str, "x": [...], "y": [float]}],
      "pie": {"labels": [str], "fractions": [float]}, ...}]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from content import fmt, placeholder, shows

Axes = dict[str, Any]


def sidecar(out: Path) -> Path:
    return out.parent / f"{out.name}.facts.json"


def load(out: Path) -> list[dict[str, Any]]:
    path = sidecar(out)
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = data.get("charts") or data.get("facts") or [data]
    return [d for d in data if isinstance(d, dict)]


def chart(out: Path, ext: str, name: str | None = None) -> tuple[list[Axes], list[str]]:
    """The axes drawn in the delivered ``.ext`` chart (named ``name`` when given)."""
    delivered = sorted(p for p in out.rglob(f"*.{ext}") if p.is_file())
    if name:
        delivered = [p for p in delivered if p.name.lower() == name.lower()]
    if not delivered:
        return [], [f"no file named {name}" if name else f"no .{ext} file"]
    names = {p.name for p in delivered}
    for entry in reversed(load(out)):  # the last save of a file is what it holds
        if Path(str(entry.get("file") or "")).name in names:
            axes = [
                {"suptitle": entry.get("suptitle", ""), **a}
                for a in entry.get("axes", [])
                if isinstance(a, dict)
            ]
            if axes:
                return axes, []
    return [], [f"{delivered[0].name}: no chart facts recorded (what it drew is not verified)"]


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def normal(ax: Axes) -> Axes:
    """One axes' facts in one shape, whichever the platform wrote: bar containers as
    ``{"label", "x", "heights", "pos", "horizontal"}`` and wedges as ``"pie"``. The hook of
    branch ``checks`` writes ``bars: [{"label", "horizontal", "bars": [{"category", "pos",
    "value", ...}]}]`` and ``wedges: [{"label", "fraction"}]``."""
    out = dict(ax)
    bars = []
    for b in ax.get("bars") or []:
        if isinstance(b.get("bars"), list):  # the hook's shape: one entry per bar
            each = [x for x in b["bars"] if isinstance(x, dict)]
            bars.append(
                {
                    "label": b.get("label"),
                    "x": [_text(x.get("category")) for x in each],
                    "heights": [float(x.get("value") or 0.0) for x in each],
                    "pos": [x.get("pos") for x in each],
                    "horizontal": bool(b.get("horizontal")),
                }
            )
        else:
            cats = b.get("x") or b.get("labels") or b.get("categories") or []
            vals = b.get("heights") or b.get("values") or b.get("widths") or []
            horizontal = b.get("orientation") == "horizontal" or bool(b.get("horizontal"))
            bars.append(
                {
                    "label": b.get("label"),
                    "x": [_text(x) for x in cats],
                    "heights": [float(v) for v in vals],
                    "pos": list(range(len(cats))),
                    "horizontal": horizontal,
                }
            )
    out["bars"] = bars
    wedges = [w for w in ax.get("wedges") or [] if isinstance(w, dict)]
    if wedges and not ax.get("pie"):
        out["pie"] = {
            "labels": [_text(w.get("label")) for w in wedges],
            "fractions": [float(w.get("fraction") or 0.0) for w in wedges],
        }
    return out


def bar_series(ax: Axes) -> list[tuple[str, dict[str, float]]]:
    """(series label, {category: height}) of each bar container, horizontal bars included."""
    return [
        (_text(b["label"]), dict(zip(b["x"], b["heights"], strict=False)))
        for b in normal(ax)["bars"]
    ]


def bar_orders(ax: Axes) -> list[list[str]]:
    """The readings of the first bar series' order: left to right for upright bars; for
    horizontal bars top to bottom and bottom to top (whether the y axis is inverted is not
    recorded, and a right chart may be drawn either way)."""
    bars = normal(ax)["bars"]
    if not bars:
        return []
    b = bars[0]
    by_pos = [c for _, c in sorted(zip(_positions(b["pos"]), b["x"], strict=False))]
    if ax.get("yaxis_inverted") is not None and b["horizontal"]:
        return [by_pos if ax["yaxis_inverted"] else by_pos[::-1]]
    return [by_pos, by_pos[::-1]] if b["horizontal"] else [by_pos]


def _positions(pos: list[Any]) -> list[float]:
    return [float(p) if isinstance(p, (int, float)) else float(i) for i, p in enumerate(pos)]


def match_labels(got: dict[str, float], want_label: str) -> float | None:
    key = want_label.casefold()
    for k, v in got.items():
        if k.strip().casefold() == key:
            return v
    return None


def bars(
    axes: list[Axes],
    expected: dict[str, float],
    order: list[str] | None = None,
    tol: float | None = None,
    series: str | None = None,
) -> list[str]:
    """One bar per expected category with its height (of the series named ``series``, or of
    any single series), and no other bars; with ``order``, drawn in that order."""
    for ax in axes:
        for label, got in bar_series(ax):
            if series and series.casefold() not in label.casefold():
                continue
            if len(got) != len(expected):
                continue
            problems = _values(got, expected, tol, "bar")
            if not problems and order:
                want = [c.casefold() for c in order]
                readings = [[c.casefold() for c in r] for r in bar_orders(ax)]
                if want not in readings:
                    seen = bar_orders(ax)[0] if readings else []
                    problems.append(f"bars drawn in the order {seen}, expected {order}")
            if not problems:
                return []
            return problems
    drawn = [(label, got) for ax in axes for label, got in bar_series(ax)]
    return [f"no bar series with the {len(expected)} expected bars; drawn: {_short(drawn)}"]


def _values(
    got: dict[str, float], expected: dict[str, float], tol: float | None, what: str
) -> list[str]:
    problems = []
    for label, want in expected.items():
        v = match_labels(got, label)
        if v is None:
            problems.append(f"no {what} for {label}")
        elif not shows(v, 9, want, tol):
            problems.append(f"{what} {label} is {fmt(v)}, expected {fmt(want)}")
    return problems


def grouped(
    axes: list[Axes], expected: dict[str, dict[str, float]], tol: float | None = None
) -> list[str]:
    """A bar series per expected series name ({series: {category: height}})."""
    series = [(label, got) for ax in axes for label, got in bar_series(ax)]
    problems = []
    for name, want in expected.items():
        match = [g for label, g in series if label.strip().casefold() == name.casefold()]
        if not match:
            problems.append(f"no bar series {name!r} (series: {[s for s, _ in series]})")
            continue
        problems += _values(match[0], want, tol, f"{name} bar")
    return problems


def lines(
    axes: list[Axes], expected: dict[str, list[float]], tol: float | None = None
) -> list[str]:
    """One line per expected series, labelled with its name, through the expected points."""
    drawn = [ln for ax in axes for ln in ax.get("lines") or [] if len(ln.get("y") or []) > 1]
    problems = []
    if len(drawn) != len(expected):
        problems.append(
            f"{len(drawn)} lines drawn, expected {len(expected)} ({', '.join(expected)})"
        )
    for name, ys in expected.items():
        match = [ln for ln in drawn if _text(ln.get("label")).strip().casefold() == name.casefold()]
        if not match:
            problems.append(f"no line labelled {name!r}")
            continue
        got = [float(y) for y in match[0]["y"] if y is not None]
        if len(got) != len(ys):
            problems.append(f"line {name}: {len(got)} points, expected {len(ys)}")
        elif not all(shows(a, 9, b, tol) for a, b in zip(got, ys, strict=True)):
            problems.append(f"line {name}: points {got[:4]}..., expected {ys[:4]}...")
    return problems


def line(axes: list[Axes], ys: list[float], tol: float | None = None) -> list[str]:
    """A line through exactly the expected points (its label not judged)."""
    for ax in axes:
        for ln in ax.get("lines") or []:
            got = [float(y) for y in ln.get("y") or [] if y is not None]
            if len(got) == len(ys) and all(
                shows(a, 9, b, tol) for a, b in zip(got, ys, strict=True)
            ):
                return []
    return [f"no line through the {len(ys)} expected points ({ys[:3]}...)"]


def pie(axes: list[Axes], expected: dict[str, float], tol: float = 0.005) -> list[str]:
    """A pie with one wedge per expected label, each the expected fraction of the whole."""
    total = sum(expected.values())
    for ax in axes:
        p = normal(ax).get("pie")
        if not p:
            continue
        got = dict(
            zip((_text(x) for x in p.get("labels") or []), p.get("fractions") or [], strict=False)
        )
        problems = (
            [] if len(got) == len(expected) else [f"{len(got)} wedges, expected {len(expected)}"]
        )
        for label, v in expected.items():
            f = match_labels(got, label)
            if f is None:
                problems.append(f"no wedge labelled {label}")
            elif abs(f - v / total) > tol:
                problems.append(f"wedge {label} is {f:.3f} of the pie, expected {v / total:.3f}")
        return problems
    return ["no pie chart drawn"]


def titled(axes: list[Axes], *words: str) -> list[str]:
    """The chart's title (any axes' or the figure's) says ``words``; never a placeholder."""
    titles = [_text(ax.get(k)) for ax in axes for k in ("title", "suptitle")]
    titles = [t for t in titles if t.strip()]
    if not titles:
        return ["the chart has no title"]
    if any(placeholder(t) for t in titles):
        return [f"placeholder title {titles[0]!r}"]
    flat = " ".join(titles).casefold()
    return [
        f"the title {titles[0]!r} does not say {w!r}" for w in words if w.casefold() not in flat
    ]


def no_placeholders(axes: list[Axes]) -> list[str]:
    texts = [_text(ax.get(k)) for ax in axes for k in ("title", "xlabel", "ylabel")]
    texts += [_text(x) for ax in axes for x in ax.get("legend") or []]
    return [f"placeholder text {t!r} in the chart" for t in texts if placeholder(t)]


def _short(drawn: list[tuple[str, dict[str, float]]]) -> str:
    return "; ".join(f"{label or '-'}: {dict(list(g.items())[:6])}" for label, g in drawn)[:300]
