"""The checked plan's data as pandas expressions, for the script request.

A small model reads code better than JSON: each chart and table of the plan becomes the one
pandas expression that computes what it shows (``df.groupby("city")["temp"].agg("mean")
.sort_values(ascending=False)``). Nothing here reads the request's words; it translates the
model's own plan, after the platform checked it against the profile.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from promptkiln.plan import Chart, OutputFile, Plan, Table

_READERS = {
    ".csv": "pd.read_csv({path})",
    ".tsv": 'pd.read_csv({path}, sep="\\t")',
    ".xlsx": "pd.read_excel({path}{sheet})",
    ".xlsm": "pd.read_excel({path}{sheet})",
    ".xls": "pd.read_excel({path}{sheet})",
    ".parquet": "pd.read_parquet({path})",
    ".json": "pd.read_json({path})",
}


def _q(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def reader(source: str) -> str | None:
    """``df = pd.read_excel("inputs/b.xlsx", sheet_name="Q1")`` for ``b.xlsx!Q1``."""
    name, _, sheet = source.removeprefix("inputs/").partition("!")
    template = _READERS.get(PurePosixPath(name).suffix.lower())
    if template is None or (sheet and PurePosixPath(name).suffix.lower() == ".json"):
        return None
    where = f", sheet_name={_q(sheet)}" if sheet else ""
    return "df = " + template.format(path=_q(f"inputs/{name}"), sheet=where)


def _sorted(expr: str, sort: str) -> str:
    if sort == "none":
        return expr
    return f"{expr}.sort_values(ascending={sort == 'asc'})"


def chart_expr(c: Chart) -> str | None:
    if c.x is None and c.y is None and not c.ys:
        return None
    if c.kind == "hist" or c.x is None:
        return f"df[{_q(c.y or c.x or '')}]"
    x, agg = _q(c.x), c.agg
    if c.ys:
        cols = json.dumps(c.ys, ensure_ascii=False)
        if agg == "none":
            return f"df.set_index({x})[{cols}]"
        return f'df.groupby({x})[{cols}].agg("{agg}")'
    if c.series is not None:
        s = _q(c.series)
        if c.y is None:
            return f"df.groupby([{x}, {s}]).size().unstack()"
        how = "first" if agg == "none" else agg
        return f'df.pivot_table(index={x}, columns={s}, values={_q(c.y)}, aggfunc="{how}")'
    if c.y is None:
        return _sorted(f"df.groupby({x}).size()", c.sort)
    if agg == "none":
        frame = f"df[[{x}, {_q(c.y)}]]"
        if c.sort == "none":
            return frame
        return f"{frame}.sort_values({_q(c.y)}, ascending={c.sort == 'asc'})"
    return _sorted(f'df.groupby({x})[{_q(c.y)}].agg("{agg}")', c.sort)


def table_expr(t: Table) -> str | None:
    aggs = json.dumps([a for a in t.aggs if a != "none"]) if t.aggs else None
    if t.group is None:
        if t.value is not None and aggs:  # statistics of one column, one row each
            return f"df[{_q(t.value)}].agg({aggs})"
        if t.value is not None and t.agg != "none":  # one figure
            return f'df[{_q(t.value)}].agg("{t.agg}")'
        return f"df[{json.dumps(t.columns, ensure_ascii=False)}]" if t.columns else None
    g = _q(t.group)
    if t.value is None or (t.agg == "count" and not aggs):
        grouped = f"df.groupby({g}).size()"
    elif aggs:
        return f"df.groupby({g})[{_q(t.value)}].agg({aggs}).reset_index()"
    else:
        grouped = f'df.groupby({g})[{_q(t.value)}].agg("{t.agg if t.agg != "none" else "sum"}")'
    return _sorted(grouped, t.sort) + ".reset_index()"


def _file_lines(f: OutputFile) -> list[str]:
    lines = []
    for c in f.charts:
        expr = chart_expr(c)
        if expr:
            lines.append(f"- {f.name}, {c.kind} chart {c.title!r}: {expr}")
    for t in f.tables:
        expr = table_expr(t)
        if expr:
            lines.append(f"- {f.name}, table: {expr}")
    return lines


def data_lines(plan: Plan) -> str:
    """The plan's data, one line per chart and table, after the line that reads each input,
    and the files that show none; "" when there is nothing to say."""
    out: list[str] = []
    read: str | None = None
    for f in plan.files:
        if not f.charts and not f.tables:
            out.append(f"- {f.name}: no chart and no table")
        for c in f.charts:
            if c.values and not (c.x or c.y):
                labels = json.dumps(list(c.values), ensure_ascii=False)
                numbers = json.dumps(list(c.values.values()))
                out.append(
                    f"- {f.name}, {c.kind} chart {c.title!r}: labels, values = {labels}, {numbers}"
                )
        lines = _file_lines(f) if f.input else []
        if not lines:
            continue
        line = reader(f.input or "")
        if line is None:
            continue
        if line != read:
            out.append(f"- {line}")
            read = line
        out += lines
    return "\n".join(out)
