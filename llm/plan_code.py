"""The checked plan as code, for the script request.

A small model reads code better than JSON: each chart and table of the plan becomes the pandas
expression that computes what it shows (``df.groupby("city")["temp"].agg("mean")
.sort_values(ascending=False)``), assigned to the names the format notes use (``labels,
values``, ``xs, ys``, ``table``), with the call that draws its kind in its file's format
(``ax.plot``, ``XL_CHART_TYPE.LINE_MARKERS``, ``LineChart()``). Nothing here reads the request's
words; it translates the model's own plan, after the platform checked it against the profile.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

from promptkiln.plan import PERIOD_CODES, Chart, OutputFile, Plan, Table, expression_parts

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


def _sorted(expr: str, sort: str, limit: int | None = None) -> str:
    if sort != "none":
        expr = f"{expr}.sort_values(ascending={sort == 'asc'})"
    return f"{expr}.head({limit})" if limit else expr


def chart_expr(c: Chart) -> str | None:
    if c.x is None and c.y is None and not c.ys:
        return None
    if c.x is None and c.ys and c.series is not None and c.kind != "hist":
        cols = json.dumps(c.ys, ensure_ascii=False)  # wide data: a series per row, read across
        combine = c.agg if c.agg not in ("none", "count") else "sum"
        return f'df.groupby({_q(c.series)})[{cols}].agg("{combine}").T'
    if c.kind == "hist" or c.x is None:
        return f"df[{_q(c.y or c.x or '')}]"
    # unsorted, the rows' order (Jan, Feb, ..., not Apr, Aug, ...); periods ("2024-03") and
    # an order by value sort themselves
    x, agg = _q(c.x), c.agg
    keep = "" if c.period or c.sort != "none" else ", sort=False"
    by = x + keep
    if c.ys:
        cols = json.dumps(c.ys, ensure_ascii=False)
        if agg == "none":
            return f"df.set_index({x})[{cols}]"
        return f'df.groupby({by})[{cols}].agg("{agg}")'
    if c.series is not None:
        s = _q(c.series)
        if c.y is None:
            return f"df.groupby([{x}, {s}]{keep}).size().unstack()"
        how = "first" if agg == "none" else agg
        return f'df.pivot_table(index={x}, columns={s}, values={_q(c.y)}, aggfunc="{how}"{keep})'
    if c.y is None:
        return _sorted(f"df.groupby({by}).size()", c.sort, c.limit)
    if agg == "none":
        frame = f"df[[{x}, {_q(c.y)}]]"
        if c.sort != "none":
            frame = f"{frame}.sort_values({_q(c.y)}, ascending={c.sort == 'asc'})"
        return f"{frame}.head({c.limit})" if c.limit else frame
    return _sorted(f'df.groupby({by})[{_q(c.y)}].agg("{agg}")', c.sort, c.limit)


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
    return _sorted(grouped, t.sort, t.limit) + ".reset_index()"


#: matplotlib's call for each chart kind: one series (``labels``/``values`` or ``xs``/``ys``),
#: and several (``table``: a column per series, its index the x axis).
_MATPLOTLIB: dict[str, tuple[str, str]] = {
    "bar": ("ax.bar(labels, values)", 'table.plot(kind="bar", ax=ax)'),
    "grouped_bar": ("ax.bar(labels, values)", 'table.plot(kind="bar", ax=ax)'),
    "stacked_bar": ("ax.bar(labels, values)", 'table.plot(kind="bar", stacked=True, ax=ax)'),
    "barh": ("ax.barh(labels, values)", 'table.plot(kind="barh", ax=ax)'),
    "line": ('ax.plot(xs, ys, marker="o")', 'table.plot(ax=ax, marker="o")'),
    "area": ("ax.fill_between(xs, ys)", "table.plot.area(ax=ax)"),
    "pie": ('ax.pie(values, labels=labels, autopct="%1.1f%%")', ""),
    "scatter": ("ax.scatter(xs, ys)", ""),
    "hist": ("ax.hist(values, bins=10)", ""),
}
#: python-pptx's chart types and openpyxl's chart classes, per kind.
_PPTX = {"bar": "COLUMN_CLUSTERED", "grouped_bar": "COLUMN_CLUSTERED",
         "stacked_bar": "COLUMN_STACKED", "barh": "BAR_CLUSTERED", "line": "LINE_MARKERS",
         "area": "AREA", "pie": "PIE", "scatter": "XY_SCATTER", "hist": "COLUMN_CLUSTERED"}  # fmt: skip
_XLSX = {"bar": "BarChart()", "grouped_bar": "BarChart()", "barh": 'BarChart(); chart.type = "bar"',
         "stacked_bar": 'BarChart(); chart.grouping = "stacked"; chart.overlap = 100',
         "line": "LineChart()", "area": "AreaChart()", "pie": "PieChart()",
         "scatter": "ScatterChart()", "hist": "BarChart()"}  # fmt: skip


def draw_call(c: Chart, fmt: str) -> str:
    """How the chart of ``c.kind`` is drawn in a file of format ``fmt``."""
    if fmt == "pptx":
        return f"XL_CHART_TYPE.{_PPTX[c.kind]}"
    if fmt == "xlsx":
        return f"chart = {_XLSX[c.kind]}"
    one, several = _MATPLOTLIB[c.kind]
    return several if (c.series or c.ys) and several else one


_XY = ("line", "area", "scatter")


def chart_code(c: Chart) -> str | None:
    """The assignments that give the chart's draw call its names (``labels, values``,
    ``xs, ys``, ``table``, ``values``), from the plan's columns."""
    expr = chart_expr(c)
    if expr is None:
        return None
    if (c.series or c.ys) and c.kind != "hist":
        return f"table = {expr}"
    if c.kind == "hist" or c.x is None:
        return f"values = {expr}"
    names = "xs, ys" if c.kind in _XY else "labels, values"
    if c.agg == "none" and c.y is not None:
        t = "df" if c.sort == "none" and not c.limit else "t"
        first = "" if t == "df" else f"t = {expr}; "
        return f"{first}{names} = {t}[{_q(c.x)}].tolist(), {t}[{_q(c.y)}].tolist()"
    return f"s = {expr}; {names} = s.index.tolist(), s.values.tolist()"


def _chart_line(f: OutputFile, c: Chart, data: str) -> str:
    fmt = PurePosixPath(f.name).suffix.lower().lstrip(".")
    return f"- {f.name}, {c.kind} chart {c.title!r}: {data}; draw: {draw_call(c, fmt)}"


def derived_lines(f: OutputFile) -> list[str]:
    """``df["day"] = pd.to_datetime(df["day"]).dt.to_period("M").astype(str)`` for a date
    column counted per month, and ``df["quantity * unit_price"] = df["quantity"] *
    df["unit_price"]`` for each value of the file's charts and tables that is computed from
    columns: the checks write those with spaces around each operator, a column's own name
    (``year-to-date``) has none."""
    values = [v for c in f.charts for v in (c.y, *c.ys)] + [t.value for t in f.tables]
    out: list[str] = []
    periods = [(c.x, c.period) for c in f.charts] + [(t.group, t.period) for t in f.tables]
    for column, period in dict.fromkeys(periods):
        if column and period:  # the date column becomes its period's label: 2024-03, 2024Q1
            code = PERIOD_CODES[period]
            out.append(
                f"- df[{_q(column)}] = pd.to_datetime(df[{_q(column)}])"
                f'.dt.to_period("{code}").astype(str)'
            )
    for value in dict.fromkeys(v for v in values if v):
        parts = expression_parts(value) if re.search(r" [-+*/] ", value) else None
        if parts is None:
            continue
        code = " ".join(
            p if p in "+-*/()" or p.replace(".", "", 1).isdigit() else f"df[{_q(p)}]" for p in parts
        )
        out.append(f"- df[{_q(value)}] = {code}")
    return out


def _file_lines(f: OutputFile) -> list[str]:
    lines = []
    for c in f.charts:
        code = chart_code(c)
        if code:
            lines.append(_chart_line(f, c, code))
    data_file = PurePosixPath(f.name).suffix.lower() in _DATA_SUFFIXES
    for t in f.tables:
        expr = table_expr(t)
        if not expr:
            continue
        if data_file or not (expr.endswith(".reset_index()") or expr.startswith("df[[")):
            lines.append(f"- {f.name}, table: table = {expr}")
        else:  # a document's table is cells: the names its format's note builds one from
            lines.append(
                f"- {f.name}, table: data = {expr}; "
                "header, rows = [str(c) for c in data.columns], data.values.tolist()"
            )
    return lines


#: Files a table is written to as a DataFrame (``table.to_csv``); a document takes cells.
_DATA_SUFFIXES = frozenset({".csv", ".tsv", ".json", ".parquet"})


def data_lines(plan: Plan) -> str:
    """The plan as code: the line that reads each input, then one line per chart (its data and
    the call that draws its kind) and table, and the files that show neither; "" when there is
    nothing to say."""
    out: list[str] = []
    read: str | None = None
    for f in plan.files:
        if not f.charts and not f.tables:
            out.append(f"- {f.name}: no chart and no table")
        for c in f.charts:
            if c.values and not (c.x or c.y):
                labels = json.dumps(list(c.values), ensure_ascii=False)
                numbers = json.dumps(list(c.values.values()))
                names = "xs, ys" if c.kind in _XY else "labels, values"
                out.append(_chart_line(f, c, f"{names} = {labels}, {numbers}"))
        lines = _file_lines(f) if f.input else []
        if not lines:
            continue
        line = reader(f.input or "")
        if line is None:
            continue
        if line != read:
            out.append(f"- {line}")
            read = line
        out += derived_lines(f) + lines
    return "\n".join(out)


def note_names(plan: Plan | None) -> dict[str, object]:
    """The plan's values for names the format notes use as placeholders (``title``,
    ``chart_title``, ``header``), where the plan gives exactly one: a script that uses one of
    them without defining it is given it (:func:`promptkiln.making.autofix.patch.patch`)."""
    if plan is None:
        return {}
    out: dict[str, object] = {}
    titled = [f.title for f in plan.files if f.title.strip()]
    charts = [c.title for f in plan.files for c in f.charts if c.title.strip()]
    headers = [list(t.columns) for f in plan.files for t in f.tables if t.columns]
    if len(titled) == 1:
        out["title"] = titled[0]
    if len(charts) == 1:
        out["chart_title"] = charts[0]
    if len(headers) == 1:
        out["header"] = headers[0]
    return out
