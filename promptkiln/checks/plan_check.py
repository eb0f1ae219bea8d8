"""The model's plan checked against the inputs' profile and the request, before any script.

:func:`check_plan` returns the plan with every input column name it uses normalised to the real
name (``" Region"``, ``"REGION"`` -> ``"region"``: case and spaces/underscores do not matter) and
the problems found, each one sentence the model can act on:

* the columns it names exist in the input (x, y, series, group, value; a listed table column
  that matches one is normalised, others may be computed);
* the aggregation fits the column's type (sum/mean/median of a text column is wrong, min/max
  need numbers or dates, count works on anything), and a bar or pie chart of a column whose
  values repeat combines them (an aggregation), or it draws one bar per row;
* a series column has few distinct values (a line per city, not a line per order id); a series
  that draws nothing of its own (the x axis again, a pie's) is taken out; "one line per
  region" makes region the series of the line chart, not its x axis;
* each file has a requested format, each requested format has a file;
* a page, slide or sheet count the request states matches the sections listed;
* no title is a placeholder ("Title", "Chart title");
* a chart kind the request names in so many words (a pie, a line chart, bars) is in the plan;
* a chart's stated values are numbers the request states, when an input holds the data, or,
  with none, when the request states the chart's numbers ("Jan 10, Feb 12, ...");
* a column whose values repeat that the request asks a value per ("per region", "for each
  product") is a group of the plan (a chart's x or series, a table's group);
* an aggregation the request names ("the average", "the total", "the median") is the one
  the plan's aggregated charts and tables use; "the number of orders", "the share of
  responses" (a noun that is no column) is a count;
* an input column the request names is used somewhere in the plan (a hint only: the request
  may name it to filter by);
* an order (sort) or a first-N limit the request does not ask for is taken out of the plan, not
  held against the files; one it asks for with a readable direction ("cheapest first", "from
  highest to lowest") must be the order of a bar chart or table of the plan.

The problems about the data's meaning are also listed in ``data_problems``: left unfixed, they
make the result unmet, whatever the files look like.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from promptkiln.checks.content_stated import stated_pairs
from promptkiln.checks.numeric import close
from promptkiln.checks.plan_columns import NUMERIC as _NUMERIC
from promptkiln.checks.plan_columns import Columns
from promptkiln.checks.plan_lines import lines_per
from promptkiln.checks.plan_order import unordered
from promptkiln.checks.plan_request import BY, SECTION_KINDS
from promptkiln.checks.plan_request import aggregations as _aggregations
from promptkiln.checks.plan_request import as_asked as _as_asked
from promptkiln.checks.plan_request import counts as _counts
from promptkiln.checks.plan_request import key as _key
from promptkiln.checks.plan_request import named_kinds as _kinds
from promptkiln.checks.plan_request import periods as _periods
from promptkiln.checks.plan_request import stated_counts as _stated_counts
from promptkiln.checks.plan_request import ungrouped as _ungrouped
from promptkiln.checks.plan_request import unused_columns as _unused
from promptkiln.checks.plan_request import with_named_kind as _with_named_kind
from promptkiln.plan import (
    Chart,
    ColumnProfile,
    OutputFile,
    Plan,
    Profile,
    Table,
)

#: A series column with more distinct values than this draws an unreadable chart.
MAX_SERIES = 12
#: Titles that are a template's words, not the request's.
PLACEHOLDER_TITLES = frozenset(
    {"title", "chart title", "report title", "document title", "deck title", "label", "value",
     "chart", "untitled", "my chart", "plot", "figure", "table", "heading"}
)  # fmt: skip
#: What a chart of a category column whose values repeat draws with no aggregation.
_DRAWN_PER_ROW = {
    "bar": "draws one bar per row",
    "barh": "draws one bar per row",
    "pie": "draws one slice per row",
    "line": "goes back and forth through the rows",
    "area": "goes back and forth through the rows",
}


#: Formats that hold data, never a drawn chart: a chart planned in one is dropped.
_NO_CHART_FORMATS = frozenset({"csv", "tsv", "json", "parquet", "txt", "md"})
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class PlanCheck:
    """A plan with its column names normalised, and what is wrong with it."""

    plan: Plan
    problems: list[str] = field(default_factory=list)
    #: The problems about what the data means (columns, aggregation, series, chart kind, made-up
    #: values): a file made from such a plan is wrong even when it looks right. The others
    #: (formats, section counts) are checked on the files themselves.
    data_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _without_idle_series(c: Chart) -> Chart:
    """A series that draws nothing of its own, taken out: one that is the x axis itself (a
    series per label, one point each: the same chart as none), and a pie's (a pie has one
    ring; its labels are x, so a pie given only a series is given its x)."""
    if c.series is None:
        return c
    if c.x is not None and _key(c.series) == _key(c.x):
        return c.model_copy(update={"series": None})
    if c.kind == "pie":
        return c.model_copy(update={"series": None, "x": c.x if c.x is not None else c.series})
    return c


def _chart(c: Chart, cols: Columns, where: str) -> Chart:
    where = f"{where}, chart {c.title!r}"
    if c.ys and c.y is not None and c.y not in c.ys:  # y and ys: all of them side by side
        c = c.model_copy(update={"y": None, "ys": [c.y, *c.ys]})
    c = _without_idle_series(c)
    if c.limit is not None and c.limit < 1:
        cols.problems.append(f"{where}: limit {c.limit} shows nothing; give a count of 1 or more")
    x = cols.resolve(c.x, "x", where)
    y = cols.value(c.y, "y", where)
    ys = [cols.value(n, "ys", where) or n for n in c.ys]
    series = cols.resolve(c.series, "series", where)
    if c.values is None and cols.tables and c.x is None and c.y is None and not c.ys:
        cols.problems.append(f"{where}: name its input columns (x, y) or give its values")
    for name in c.ys:
        col = cols.find(name)
        if col is not None and col.dtype not in _NUMERIC:
            cols.problems.append(f"{where}: ys column {col.name!r} is {col.dtype}, not numbers")
    if c.kind == "hist":
        col = cols.find(c.y or c.x)
        if col is not None and col.dtype not in _NUMERIC:
            cols.problems.append(f"{where}: a histogram needs a number column, {col.name!r} is not")
        return c.model_copy(update={"x": x, "y": y, "ys": ys, "series": series})
    values: list[str | None] = [*c.ys] if c.ys else [c.y]  # with ys, y is one of them (above)
    for value in values:
        cols.aggregation(c.agg, value, where, "y")
    cols.period(c.x, c.period, c.agg != "none", where)
    if c.x is None and c.ys and c.series is not None:  # wide data: one series per row
        cols.repeats(c.series, c.agg, where, "it draws one series per row")
    if c.series is None and not c.ys and c.kind in _DRAWN_PER_ROW:
        drawn = _DRAWN_PER_ROW[c.kind]
        cols.repeats(c.x, c.agg, where, f"a {c.kind} chart of it {drawn}", series=c.kind != "pie")
    counted = c.agg == "count" or (c.y is None and not c.ys)
    if counted and c.kind in _PER_LABEL and c.series is None:
        _counted_numbers(c.x, cols, where, "bar")
    if c.kind in ("line", "area") and c.sort != "none":
        cols.problems.append(
            f"{where}: a {c.kind} chart keeps the order of its x axis; sorting it by value "
            "scrambles that: set sort none"
        )
    scol = cols.find(c.series)
    if scol is not None and c.x is not None and _one_per_row(scol, cols):
        cols.problems.append(
            f"{where}: series {scol.name!r} has a different value on every row, so each row "
            "is drawn as a series of its own; a series is a column whose values repeat (a "
            "line per city), or leave series out"
        )
    elif scol is not None and scol.distinct > MAX_SERIES:
        cols.problems.append(
            f"{where}: series column {scol.name!r} has {scol.distinct} distinct values, too "
            f"many series; use a column with at most {MAX_SERIES}, or no series"
        )
    return c.model_copy(update={"x": x, "y": y, "ys": ys, "series": series})


def _asked_file(plan: Plan, wanted: Sequence[str]) -> bool:
    """Whether some file of the plan has a format the request asks for."""
    exts = {PurePosixPath(f.name).suffix.lower().lstrip(".") for f in plan.files}
    return bool(exts & {*wanted, *(["jpeg"] if "jpg" in wanted else [])})


def _one_per_row(col: ColumnProfile, cols: Columns) -> bool:
    rows = cols.table_of(col).rows - col.nulls
    return rows > 1 and col.distinct >= rows


def _table(t: Table, cols: Columns, where: str) -> Table:
    where = f"{where}, table"
    group = cols.resolve(t.group, "group", where)
    value = cols.value(t.value, "value", where)
    shown = [getattr(cols.find(c), "name", c) for c in t.columns]
    for agg in t.aggs or [t.agg]:
        cols.aggregation(agg, t.value, where, "value")
    cols.period(t.group, t.period, t.agg != "none" or bool(t.aggs), where)
    if t.group is not None and t.agg == "none" and not t.aggs:
        cols.repeats(t.group, t.agg, where, "grouping needs an aggregation")
    if (t.aggs or [t.agg]) == ["count"] and t.period is None:
        _counted_numbers(t.group, cols, where, "row")
    listing = t.group is None and t.value is None and cols.tables
    unknown = [c for c in t.columns if cols.find(c) is None] if listing else []
    if unknown:  # rows as they are: every column must be one of the input's
        known = ", ".join(c.name for c in cols.tables[0].columns[:20])
        cols.problems.append(
            f"{where}: {', '.join(repr(c) for c in unknown)} not in the input (its columns: "
            f"{known}); a computed column needs group, value and agg (one row per group)"
        )
    return t.model_copy(update={"group": group, "value": value, "columns": shown})


def _counted_numbers(label: str | None, cols: Columns, where: str, unit: str) -> None:
    """Rows counted per value of ``label`` (a bar chart's x, a table's group), a number column
    with many values ("the count of rows per units"): a ``unit`` (bar, row) per distinct
    number, where the request meant that number per some label."""
    col = cols.find(label)
    if col is None or col.dtype not in ("number", "integer") or col.distinct <= MAX_SERIES:
        return
    table = cols.table_of(col)
    labels = [k.name for k in table.columns if k.dtype == "text"][:3]
    axis, value = ("x", "y") if unit == "bar" else ("group", "value")
    instead = f"{axis} a label column ({', '.join(labels)}) and " if labels else ""
    cols.problems.append(
        f"{where}: {axis} {col.name!r} is a number column with {col.distinct} values, so "
        f"counting rows per value gives one {unit} per number; to show {col.name} per label, "
        f"make {instead}{value} {col.name!r}"
    )


#: The request's label-number pairs (:func:`~promptkiln.checks.content_stated.stated_pairs`).
Pairs = list[tuple[str, float, float]]
#: Chart kinds whose x is a category label per bar or slice.
_PER_LABEL = ("bar", "barh", "pie")


def _with_stated_values(file: OutputFile, plan: Plan, pairs: Pairs) -> OutputFile:
    """With no input, the one chart of the plan that names columns but gives no values gets
    the request's label-number pairs ("Q1=2.1M, Q2=2.8M" -> {"Q1": 2.1, "Q2": 2.8}): they are
    the only data there is, and a round back to the model for them costs a whole plan."""
    charts = [c for f in plan.files for c in f.charts]
    if len(charts) != 1 or len(pairs) < 2 or len({label for label, _, _ in pairs}) != len(pairs):
        return file
    return file.model_copy(update={"charts": [
        c.model_copy(update={"values": {label: v for label, v, _ in pairs}})
        if not c.values and (c.x or c.y or c.ys) else c
        for c in file.charts
    ]})  # fmt: skip


def _made_up(c: Chart, cols: Columns, where: str, prompt: str, pairs: Pairs) -> None:
    """A chart of numbers the request does not state: although an input holds the data, or,
    with no input, when the request states the chart's numbers ("Jan 10, Feb 12, ...")."""
    if not c.values:
        return
    if not cols.tables and len(pairs) < 2:
        return
    stated = {float(n.replace(",", "")) for n in _NUMBER.findall(prompt)}
    stated |= {scaled for _, _, scaled in pairs}
    invented = [  # a share may be planned as a fraction: 0.4 for "40%"
        k for k, v in c.values.items() if not any(close(v, n) or close(100 * v, n) for n in stated)
    ]
    if not invented:
        return
    if cols.tables:
        fix = "take them from the input: name its columns (x, y) and agg, and leave values out"
    else:
        fix = "use exactly the numbers the request states"
    cols.problems.append(
        f"{where}, chart {c.title!r}: the values of {', '.join(invented[:3])} are not in "
        f"the request; {fix}"
    )


def _placeholder(title: str, where: str, prompt: str) -> str | None:
    if _key(title) in PLACEHOLDER_TITLES and _key(title) not in _key(prompt):
        return f"{where}: the title {title!r} is a placeholder; use a title from the request"
    return None


def check_plan(
    plan: Plan, profile: Profile | None, formats: Sequence[str], prompt: str = ""
) -> PlanCheck:
    """``plan`` with its column names normalised to the profile's, and its problems."""
    problems: list[str] = []
    data: list[str] = []
    wanted = [f.lower().lstrip(".") for f in formats]
    counts = _stated_counts(prompt, wanted)
    pairs = stated_pairs(prompt)  # read once: the charts without input take or match them
    files: list[OutputFile] = []
    if not plan.files:
        problems.append("the plan lists no files")
    plan = _with_named_kind(plan, prompt, wanted)
    asked_file = _asked_file(plan, wanted)  # a file of a format asked for is in the plan
    for file in plan.files:
        where = file.name
        ext = PurePosixPath(file.name).suffix.lower().lstrip(".")
        ext = "jpg" if ext == "jpeg" else ext
        if wanted and ext not in wanted:
            problems.append(
                f"{file.name}: .{ext or '?'} was not asked for; name it with one of "
                + ", ".join(f".{w}" for w in wanted)
            )
        if file.charts and ext in _NO_CHART_FORMATS:  # a CSV cannot hold a chart: not planned
            file = file.model_copy(update={"charts": []})
        file = _as_asked(file, prompt)
        if profile is None or not profile.inputs:
            file = _with_stated_values(file, plan, pairs)
            for c in file.charts:
                if not c.values and (c.x or c.y or c.ys):
                    problems.append(
                        f"{where}, chart {c.title!r}: there is no input file; give its values "
                        "{label: number} from the request, or leave the chart out"
                    )
        for text in (file.title, *(c.title for c in file.charts)):
            found = _placeholder(text, where, prompt)
            if found:
                problems.append(found)
        cols = Columns(file, profile)
        charts = [_chart(c, cols, where) for c in file.charts]
        tables = [_table(t, cols, where) for t in file.tables]
        for c in file.charts:
            _made_up(c, cols, where, prompt, pairs)
        problems += cols.problems
        data += cols.problems
        n = counts.get(ext)
        if n is not None and len(file.sections) != n:
            kind = SECTION_KINDS[ext]
            problems.append(
                f"{file.name}: the request asks for {n} {kind}, the plan lists "
                f"{len(file.sections)} sections; list the {n} titles"
            )
        source = file.input
        if len(cols.tables) == 1 and (
            file.input or any(c.x or c.y or c.ys for c in charts) or tables
        ):
            source = cols.tables[0].name  # the real name ("inputs/Sales.CSV" -> "sales.csv")
        elif not cols.tables:
            source = None  # no input: whatever the model wrote there ("none", ",") is no file
        if wanted and ext not in wanted and asked_file:
            continue  # a file of a format not asked for, beside one that is: not planned
        files.append(file.model_copy(update={"charts": charts, "tables": tables, "input": source}))
    names = [PurePosixPath(f.name).suffix.lower().lstrip(".") for f in plan.files]
    for fmt in wanted:
        if fmt not in names and not (fmt == "jpg" and "jpeg" in names):
            problems.append(f"no file in the plan is a .{fmt}; add one")
    kinds = _kinds(plan, prompt, wanted)
    checked = Plan(files=files)
    per = _ungrouped(checked, profile, prompt) + _periods(checked, profile, prompt)
    per += _aggregations(checked, prompt, wanted) if profile is not None and profile.inputs else []
    per += _counts(checked, profile, prompt) + lines_per(checked, profile, prompt)
    per += unordered(checked, prompt, profile) if profile is not None and profile.inputs else []
    by = [h for h in _ungrouped(checked, profile, prompt, BY) if not _same(h, per)]  # hints
    unused = [u for u in _unused(checked, profile, prompt) if not _same(u, per + by)]
    return PlanCheck(
        checked,
        list(dict.fromkeys(problems + kinds + per + by + unused)),
        list(dict.fromkeys(data + kinds + per)),
    )


def _same(hint: str, problems: list[str]) -> bool:
    """Whether an unused-column hint names a column a problem already names."""
    name = hint.split("'")[1] if "'" in hint else hint
    return any(f"{name!r}".casefold() in p.casefold() for p in problems)
