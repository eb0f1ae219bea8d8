""" "One line per region": the lines of a line chart are the values of that column.

A request that asks for a line per value of a column ("a separate line for each region", "one
line per city", "lines for every product") is answered by a line chart whose *series* is that
column. A plan with the column on the x axis instead draws one line per something else (one per
quarter, one per value column) through the column's values: the words are all there and the
chart answers another question. Only a column whose values repeat, or a wide table's label
column, is read this way; the problem is one about the data's meaning (left unfixed, the result
is unmet).
"""

from __future__ import annotations

import re

from promptkiln.checks.plan_request import key, spaced
from promptkiln.plan import Plan, Profile

#: "one line per", "a separate line for each", "lines for every", "its own line for each".
_LINE_PER = (
    r"\b(?:(?:one|a|separate|own|different) )?lines? (?:per|for (?:each|every|all)|each)"
    r" (?:the |single |individual )?{name}s?(?![\w])"
)


def lines_per(plan: Plan, profile: Profile | None, prompt: str) -> list[str]:
    """Problems of line charts whose series is not the column the request asks a line per."""
    if profile is None:
        return []
    lines = [c for f in plan.files for c in f.charts if c.kind in ("line", "area")]
    if not lines:
        return []
    text = spaced(prompt)
    out: list[str] = []
    for table in (t for i in profile.inputs for t in i.tables):
        for col in table.columns:
            name = key(col.name)
            if len(name) < 3 or col.dtype in ("number", "integer") or not col.distinct:
                continue
            if not re.search(_LINE_PER.format(name=re.escape(name)), text):
                continue
            if any(c.series and key(c.series) == name for c in lines):
                continue
            wide = any(c.ys for c in lines)
            how = (
                f'"series": "{col.name}", its value columns as "ys" and no "x"'
                if wide
                else f'"series": "{col.name}" and "x" the column the values run along'
            )
            out.append(
                f"the request asks for one line per {col.name!r}: each {col.name} is its own "
                f"line, so the line chart needs {how}"
            )
    return out[:2]
