"""A chart made from the request alone draws the numbers the request states; a chart kind the
request names is drawn.

"Two charts of this data: Jan 10, Feb 12, Mar 9, Apr 15": with no input file, those numbers are
the chart's whole content, and a chart of 100, 120, 90 and 150 is wrong however good it looks.
This check needs no plan (a plan may leave the values out, or copy them wrong): it reads the
request's label-number pairs ("Jan 10", "Q1=2.1M", "Alpha: 40%", "North $1.2M") and asks that
each number is drawn by some chart of the attempt: a bar, a point of a line, a pie's share
(as a percentage, or as a part of the stated numbers' sum). A number written with a unit
(``2.1M``) may be drawn as 2.1 or as 2,100,000.

Not a pair: a number in quotes (a title's), a size or count with its unit (``800x600``,
``10 bins``), a year, or one after a word such as "top" or "with". Fewer than two pairs, no
chart facts (a chart drawn without matplotlib), or input files: no check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks.content import axes_for
from promptkiln.checks.numeric import close
from promptkiln.checks.plan_request import kinds_named
from promptkiln.checks.requirement import Outcome, Requirement
from promptkiln.checks.requirements_facts import CHART_REQUEST

_QUOTED = re.compile(r"(?<![\w])'[^'\n]*'(?![\w])|\"[^\"]*\"|“[^”]*”|‘[^’]*’")  # not "Oslo's"
_PAIR = re.compile(
    r"(?P<label>[A-Za-z][\w&.'-]*)\)?(?:\s*[:=]\s*|\s+)\(?[$€£¥]?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<unit>\s?(?:bn|thousand|million|billion|[kKmMbB])\b|%)?(?![\w.,]?\d|\s?[x×])"
)
#: Words a number follows without being a label's value: "top 5", "with 10 bins", "in 2024".
_NOT_LABELS = frozenset({
    "a", "an", "and", "at", "by", "for", "from", "in", "into", "of", "on", "or", "over", "per",
    "than", "the", "to", "top", "bottom", "first", "last", "with", "within", "under", "about",
    "around", "only", "size", "width", "height", "dpi", "bins", "bin", "pages", "page",
    "slides", "slide", "rows", "columns", "figure", "figures", "chart", "charts", "x",
})  # fmt: skip
_UNITS = re.compile(
    r"\s*(?:px|pixels?|pt|points?|dpi|bins?|pages?|slides?|sheets?|rows?|columns?|inch|cm|mm"
    r"|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",  # a size, a count, a date's day
    re.I,
)
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "thousand": 1e3, "million": 1e6,
          "billion": 1e9}  # fmt: skip


def stated_pairs(prompt: str) -> list[tuple[str, float, float]]:
    """The request's label-number pairs: (label, number, the number with its unit's scale)."""
    text = _QUOTED.sub(" ", prompt)
    out = []
    for m in _PAIR.finditer(text):
        label, unit = m["label"], (m["unit"] or "").strip().lower()
        if label.lower() in _NOT_LABELS or _UNITS.match(text, m.end()):
            continue
        value = float(m["num"].replace(",", ""))
        if unit != "%" and value.is_integer() and 1900 <= value <= 2100 and not unit:
            continue  # a year
        out.append((label, value, value * _SCALE.get(unit, 1.0)))
    return out


def _axes(
    facts: Mapping[str, Mapping[str, Any]], figures: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Every axes the attempt's files draw: their figures' and their native charts'."""
    names = list(facts)
    return [ax for name in names for ax in axes_for(name, facts[name], figures or [], names)]


#: What the chart-facts hook records for each chart kind a request may name.
_DRAWS = {"pie": "wedges", "bar": "bars", "line": "lines"}


def kind_outcomes(
    prompt: str,
    facts: Mapping[str, Mapping[str, Any]],
    figures: Sequence[dict[str, Any]] | None,
) -> list[Outcome]:
    """The one chart kind the request names ("a pie chart of ...") is drawn by some chart: a
    bar chart delivered for "as a pie" is not what was asked, plan or none. Several kinds
    named, a kind the facts cannot tell apart (scatter, histogram) or no chart facts: none."""
    named = kinds_named(prompt)
    if len(named) != 1 or named[0] not in _DRAWS:
        return []
    axes = _axes(facts, figures)
    if not axes:
        return []
    kind = named[0]
    need = Requirement("content", f"a {kind} chart is drawn")
    if any(ax.get(_DRAWS[kind]) for ax in axes):
        return [Outcome(need, True, "")]
    drawn = sorted({k for ax in axes for k, key in _DRAWS.items() if ax.get(key)})
    what = " and ".join(f"{k} charts" for k in drawn) or "no bars, lines or slices"
    return [Outcome(need, False, f"the charts draw {what}, not a {kind} chart")]


def _drawn(axes: Sequence[Mapping[str, Any]], total: float) -> list[float]:
    values: list[float] = []
    for ax in axes:
        for container in ax.get("bars") or []:
            values += [b["value"] for b in container.get("bars") or [] if _num(b.get("value"))]
        for line in ax.get("lines") or []:
            values += [y for y in line.get("y") or [] if _num(y)]
        for wedge in ax.get("wedges") or []:
            if _num(wedge.get("fraction")):
                values += [100 * wedge["fraction"], total * wedge["fraction"]]
    return [float(v) for v in values]


def _num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def stated_outcomes(
    prompt: str,
    facts: Mapping[str, Mapping[str, Any]],
    figures: Sequence[dict[str, Any]] | None,
) -> list[Outcome]:
    """One outcome: every stated number is drawn; none when there is nothing to check."""
    pairs = stated_pairs(prompt)
    if len(pairs) < 2 or not CHART_REQUEST.search(prompt.lower()):
        return []
    axes = _axes(facts, figures)
    if not axes:
        return []
    drawn = _drawn(axes, sum(v for _, v, _ in pairs))
    if not drawn:
        return []
    missing = [
        (label, value)
        for label, value, scaled in pairs
        if not any(close(d, value) or close(d, scaled) for d in drawn)
    ]
    said = ", ".join(f"{label} {value:g}" for label, value, _ in pairs[:6])
    need = Requirement("content", f"the charts draw the numbers the request states ({said})")
    if not missing:
        return [Outcome(need, True, "")]
    shown = ", ".join(f"{d:g}" for d in drawn[:8])
    absent = ", ".join(f"{label} {value:g}" for label, value in missing[:6])
    return [
        Outcome(
            need,
            False,
            f"no chart draws {absent}; they draw {shown}: use exactly the request's numbers",
        )
    ]
