"""The plan against the request's own words: chart kinds it names, columns it names, an order.

Each reads only what the request says in so many words (a "pie", a "line chart", a column's own
name, "per region", "highest first", "top 5"); none decides what the data means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from promptkiln.checks.plan_order import asked_order
from promptkiln.plan import (
    Chart,
    ColumnProfile,
    OutputFile,
    Plan,
    Profile,
    Table,
    expression_parts,
)

#: Chart kinds a request names in so many words, each with the plan kinds that draw it.
_NAMED_KINDS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("pie", re.compile(r"\b(?:pie|donut|doughnut)\b"), ("pie",)),
    ("line", re.compile(r"\bline[- ](?:chart|graph|plot|diagram)s?\b"), ("line", "area")),
    # "one line per city" is a chart's lines only in a request about a chart ("an invoice
    # line per item" is not)
    ("line", re.compile(
        r"(?=.*\b(?:chart|graph|plot|draw|visuali))"
        r".*(?:\b(?:one|a|separate) line (?:per|for)\b|\blines (?:per|for each|for every)\b)",
        re.S), ("line", "area")),
    ("scatter", re.compile(r"\bscatter"), ("scatter",)),
    ("histogram", re.compile(r"\bhistograms?\b"), ("hist",)),
    ("bar", re.compile(r"\b(?:bar|column)[- ](?:chart|graph|plot|diagram)s?\b"
            r"|\b(?:as|with|horizontal|vertical|stacked|grouped) bars\b"),
     ("bar", "barh", "stacked_bar", "grouped_bar")),
)  # fmt: skip
#: Words by which a request asks for an order by value (or for the first N of one).
_ORDER_WORDS = re.compile(
    r"\b(?:sort(?:s|ed|ing)?|rank(?:s|ed|ing)?|order(?:ed)? (?:by|from)|descending|ascending"
    r"|decreasing|increasing|highest|lowest|largest|smallest|biggest|greatest|fewest"
    r"|best|worst|most|least|leading)\b"
    # "the top 5", "bottom three": not "values on top of the bars", "at the bottom"
    r"|(?<!\bon )(?<!\bat the )(?<!\bthe very )\b(?:top|bottom)\b(?! of\b| left\b| right\b)"
)
SECTION_KINDS = {"pdf": "pages", "pptx": "slides", "xlsx": "sheets"}
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10}  # fmt: skip
_SHEETS = re.compile(r"\b(\d{1,2}|" + "|".join(_WORD_NUMBERS) + r")[- ](?:work)?sheets?\b")
_CHART_FORMATS = frozenset({"png", "svg", "jpg", "pdf", "pptx", "xlsx", "docx", "html"})


def key(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name).strip().casefold()


def spaced(prompt: str) -> str:
    """The request as :func:`key` writes names, padded: a column's key is found in it."""
    return " " + re.sub(r"[\s_]+", " ", prompt.casefold()) + " "


def with_named_kind(plan: Plan, prompt: str, formats: Sequence[str]) -> Plan:
    """The plan with its one chart set to the one kind the request names, when the model
    planned another ("a pie chart of ..." planned as bars): the request says it in so many
    words, so no round back to the model is spent on it. Several charts or several named
    kinds are left to :func:`named_kinds` and the model."""
    if not any(f in _CHART_FORMATS for f in formats):
        return plan
    text = prompt.lower()
    named = {kinds for _, pattern, kinds in _NAMED_KINDS if pattern.search(text)}
    charts = [(i, j) for i, f in enumerate(plan.files) for j, _ in enumerate(f.charts)]
    if len(named) != 1 or len(charts) != 1:
        return plan
    [kinds], [(i, j)] = named, charts
    file = plan.files[i]
    chart = file.charts[j]
    if chart.kind in kinds:
        return plan
    kind = "barh" if kinds[0] == "bar" and "horizontal" in text else kinds[0]
    charts_now = [c if n != j else c.model_copy(update={"kind": kind}) for n, c in
                  enumerate(file.charts)]  # fmt: skip
    files = list(plan.files)
    files[i] = file.model_copy(update={"charts": charts_now})
    return plan.model_copy(update={"files": files})


def kinds_named(prompt: str) -> list[str]:
    """The chart kinds the request names in so many words: "pie", "line", "bar", ..."""
    text = prompt.lower()
    return list(dict.fromkeys(name for name, p, _ in _NAMED_KINDS if p.search(text)))


def named_kinds(plan: Plan, prompt: str, formats: Sequence[str]) -> list[str]:
    """The chart kinds the request names that no chart of the plan draws."""
    if not any(f in _CHART_FORMATS for f in formats):
        return []
    text = prompt.lower()
    drawn = [c.kind for f in plan.files for c in f.charts]
    out: list[str] = []
    for name, pattern, kinds in _NAMED_KINDS:
        if any(f"a {name} chart" in p for p in out):
            continue
        if pattern.search(text) and not any(k in kinds for k in drawn):
            has = ", ".join(dict.fromkeys(drawn)) or "no chart"
            out.append(
                f"the request asks for a {name} chart and the plan has {has}; set kind {kinds[0]}"
            )
    return out


def unused_columns(plan: Plan, profile: Profile | None, prompt: str) -> list[str]:
    """Input columns the request names in so many words that no part of the plan uses: a hint
    for the model (the request may name one to filter by, which a plan cannot say), so these
    are not data problems."""
    if profile is None or not plan.files:
        return []
    used: set[str] = set()
    names = [n for f in plan.files for c in f.charts for n in (c.x, c.y, c.series, *c.ys)]
    names += [n for f in plan.files for t in f.tables for n in (t.group, t.value, *t.columns)]
    for n in names:
        if n:
            used.update(key(p) for p in expression_parts(n) or [n])
    text = spaced(prompt)
    out: list[str] = []
    for table in (t for i in profile.inputs for t in i.tables):
        for col in table.columns:
            name = key(col.name)
            if len(name) < 3 or name in used or name in out:
                continue
            if re.search(r"(?<![\w])" + re.escape(name) + r"(?![\w])", text):
                out.append(name)
    return [
        f"the request names the column {name!r} and no chart or table of the plan uses it; "
        "use it where the request means it"
        for name in out[:3]
    ]


def asks_for_order(prompt: str) -> bool:
    """Whether the request asks for an order by value in so many words ("sorted", "highest
    first", "top 5", "ranked"). Without one, the order of a plan is the model's own choice and
    no check holds the files to it; an empty request (no words to read) keeps the plan's."""
    if not prompt.strip() or _ORDER_WORDS.search(prompt.lower()) is not None:
        return True
    return asked_order(prompt) is not None  # "cheapest first"


def states_count(prompt: str, n: int) -> bool:
    """Whether the request states the number ``n`` ("the top 5", "five cities") on its own,
    not inside a label like "Q4" or a value like "4.5"."""
    if not prompt.strip():
        return True
    text = prompt.lower()
    word = next((w for w, v in _WORD_NUMBERS.items() if v == n), None)
    if word and re.search(rf"\b{word}\b", text):
        return True
    return re.search(rf"(?<![\w.,]){n}(?![\w]|[.,]\d)", text) is not None


#: Words by which a request asks for a drawn chart in a document.
_CHART_WORDS = re.compile(
    r"\b(?:chart|graph|plot|diagram|visuali[sz]|pie|donut|doughnut|histogram|scatter|figure"
    r"|infographic|picture|image|sparkline)"
)
#: Documents that hold a chart only when the request asks for one (an image file is one).
_DOCUMENT_EXT = (".pdf", ".docx", ".pptx", ".xlsx", ".html", ".md")


def asks_for_chart(prompt: str) -> bool:
    """Whether the request asks for a chart in so many words; an empty request keeps the
    plan's charts."""
    return not prompt.strip() or _CHART_WORDS.search(prompt.lower()) is not None


def as_asked(file: OutputFile, prompt: str) -> OutputFile:
    """The file with what the request does not ask for taken out of it:

    * an order or a first-N limit: a model likes to sort bars highest first (or to keep the
      top N) unasked, and the checks would then fail a file that keeps the request's own order
      (Q1 to Q4) or shows every group;
    * a chart in a document (an offer letter with a salary chart), when the request asks for
      no chart at all: the script would draw it, the checks would hold the file to it."""
    ordered = asks_for_order(prompt)
    charts = file.charts
    if charts and file.name.lower().endswith(_DOCUMENT_EXT) and not asks_for_chart(prompt):
        charts = []

    def fix(item: Chart | Table) -> dict[str, object]:
        sort = item.sort if ordered else "none"
        n = item.limit
        limit = n if ordered and (n is None or n < 1 or states_count(prompt, n)) else None
        return {"sort": sort, "limit": limit}

    return file.model_copy(
        update={
            "charts": [c.model_copy(update=fix(c)) for c in charts],
            "tables": [t.model_copy(update=fix(t)) for t in file.tables],
        }
    )


#: Words before a column's name by which a request asks for one value per value of the column.
_PER = r"(?:per|for each|for every|for all|each)"


#: "revenue by region", "broken down by product": as often a grouping as an order of a
#: listing ("the orders by region"), so the problem it finds is a hint, not a data problem.
BY = r"(?<!sort )(?<!sorted )(?<!order )(?<!ordered )(?<!ranked )(?<!filtered )by"


def ungrouped(plan: Plan, profile: Profile | None, prompt: str, words: str = _PER) -> list[str]:
    """Input columns whose values repeat that the request asks a value per ("per region", "for
    each product"; or the ``words`` given) and that no chart or table of the plan groups by (an
    x, a series, a table's group): the files would list rows instead. Rows of a listing are no
    answer to "per"."""
    if profile is None or not plan.files:
        return []
    grouped = {key(n) for f in plan.files for c in f.charts for n in (c.x, c.series) if n}
    grouped |= {key(t.group) for f in plan.files for t in f.tables if t.group}
    text = spaced(prompt)
    out: list[str] = []
    for table in (t for i in profile.inputs for t in i.tables):
        for col in table.columns:
            name = key(col.name)
            repeats = 0 < col.distinct < table.rows - col.nulls
            if not repeats or len(name) < 3 or name in grouped or name in map(key, out):
                continue
            if re.search(
                rf"\b{words} (?:the |single |individual )?{re.escape(name)}s?(?![\w])", text
            ):
                out.append(col.name)
    numbers = [c.name for i in profile.inputs for t in i.tables for c in t.columns
               if c.dtype in ("number", "integer")]  # fmt: skip
    # the example's value: a number column the request names, else the first one; its agg:
    # the one the request names ("the average"), else a sum
    named = [n for n in numbers if re.search(rf"(?<![\w]){re.escape(key(n))}(?![\w])", text)]
    agg = next((a for a, _, pattern in _AGG_WORDS if pattern.search(prompt.lower())), "sum")
    value = (named or numbers)[0] if numbers else None
    return [_group_by_it(plan, name, value, agg) for name in out[:3]]


def _group_by_it(plan: Plan, name: str, value: str | None, agg: str) -> str:
    """The ungrouped problem for column ``name``, with a whole table to copy: the plan's own
    listing's columns, grouped by ``name``, ``value`` combined by ``agg``."""
    listed = next(
        (t.columns for f in plan.files for t in f.tables
         if t.group is None and key(name) in map(key, t.columns)),
        None,
    )  # fmt: skip
    if value is None:
        table = {"columns": listed or [name, "count"], "group": name, "agg": "count"}
    else:
        table = {"columns": listed or [name, value], "group": name, "value": value, "agg": agg}
    example = json.dumps(table, ensure_ascii=False)
    return (
        f"the request asks for values per {name!r} and no chart or table of the plan groups by "
        f'it; group by it: a table like {example} (one row per {name}; "agg": "count" '
        f'counts its rows), or a chart with "x": "{name}" and agg'
    )


def _one_per(col: ColumnProfile, period: str) -> bool:
    """Whether a date column already holds at most one date per ``period`` (a month column of
    first days): counting it per period changes nothing."""
    from datetime import date

    try:
        first = date.fromisoformat((col.first or "")[:10])
        last = date.fromisoformat((col.last or "")[:10])
    except ValueError:
        return False
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    spans = {"day": (last - first).days + 1, "week": (last - first).days // 7 + 1,
             "month": months, "quarter": months // 3 + 1, "year": last.year - first.year + 1}  # fmt: skip
    return 0 < col.distinct <= spans[period]


#: A request for values per calendar period: "per month", "each quarter", "monthly".
_PERIOD_ASKED = re.compile(
    r"\b(?:per|each|every|by|for each|for every|a) (day|week|month|quarter|year)\b"
    r"|\b(week|month|quarter)ly\b"
)


def periods(plan: Plan, profile: Profile | None, prompt: str) -> list[str]:
    """The calendar period the request asks values per ("units per month", "monthly
    revenue"), when an input has a date column and the plan does not count it per that period:
    daily rows drawn as they are are no answer to "per month". A column of its own that names
    the period ("month" holding "Jan", "Feb") is the per-column rule's, not this one's."""
    m = _PERIOD_ASKED.search(prompt.lower())
    if profile is None or m is None or not plan.files:
        return []
    want = m.group(1) or m.group(2)
    cols = {key(c.name): c for i in profile.inputs for t in i.tables for c in t.columns}
    dates = [c.name for c in cols.values() if c.dtype == "date"]
    if not dates or (want in cols and cols[want].dtype != "date"):
        return []
    axes = [(c.x, c.period) for f in plan.files for c in f.charts]
    axes += [(t.group, t.period) for f in plan.files for t in f.tables]
    dated = [(n, p) for n, p in axes if n and key(n) in cols and cols[key(n)].dtype == "date"]
    if any(p == want or _one_per(cols[key(n)], want) for n, p in dated):
        return []
    if dated:
        return [
            f"the request asks for values per {want} and {dated[0][0]!r} is a date column: "
            f'set "period": "{want}" with an agg, to combine the rows of each {want}'
        ]
    return [
        f"the request asks for values per {want} and no chart or table of the plan counts the "
        f"date column {dates[0]!r} per {want}: use it as a chart's x or a table's group with "
        f'"period": "{want}" and an agg'
    ]


#: Aggregations a request names in so many words: "the average revenue", "total units" (not
#: "the total number of orders", a count).
_AGG_WORDS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("mean", "average", re.compile(r"\b(?:average|mean|avg)\b")),
    ("median", "median", re.compile(r"\bmedian\b")),
    ("sum", "total", re.compile(r"\b(?:total|sum|summed)\b(?! (?:number|count)\b)")),
)


def _aggregated(plan: Plan) -> set[str]:
    """The aggregations the plan's charts and tables combine rows by."""
    used = {c.agg for f in plan.files for c in f.charts if c.agg != "none"}
    return used | {a for f in plan.files for t in f.tables for a in (t.agg, *t.aggs) if a != "none"}


def aggregations(plan: Plan, prompt: str, formats: Sequence[str] = ()) -> list[str]:
    """An aggregation the request names that no chart or table of the plan uses: "the average
    revenue per region" planned as sums draws a right-looking, wrong chart, and "the count,
    mean and max of score" planned as a listing of rows shows numbers nothing checks. A
    workbook's totals and averages may be formulas: there, a plan that aggregates nothing is
    not judged."""
    used = _aggregated(plan)
    data = any(c.x or c.y or c.ys for f in plan.files for c in f.charts)
    data |= any(t.columns or t.value or t.group for f in plan.files for t in f.tables)
    if not used and (not data or "xlsx" in formats):
        return []
    how = f"combine rows by {', '.join(sorted(used))}" if used else "combine no rows"
    text = prompt.lower()
    return [
        f"the request asks for the {word}, and the plan's charts and tables {how}: set "
        f'"agg": "{agg}" on the chart or table that shows the {word} (or "aggs" for several)'
        for agg, word, pattern in _AGG_WORDS
        if pattern.search(text) and agg not in used
    ]


#: "the number of orders", "how many tickets", "the share of responses": rows counted, when the
#: noun is no column of the input (a column's name asks for its values: "the share of revenue").
_COUNTED = re.compile(
    r"\b(?:(?:number|count|share|percentage|proportion|fraction) of (?:the |all )?|how many )"
    r"([a-z]+)"
)
#: Nouns that name an amount, not records: their number or share is a sum, not a count.
_AMOUNTS = frozenset({
    "sales", "revenue", "revenues", "units", "items", "amount", "value", "spend", "spending",
    "profit", "income", "cost", "costs", "hours", "time", "quantity", "volume", "money",
    "budget", "turnover", "total", "each", "every", "a", "an", "it", "them", "those", "these",
    "market", "whole", "overall", "year", "month", "week", "day",
})  # fmt: skip


def counts(plan: Plan, profile: Profile | None, prompt: str) -> list[str]:
    """The request asks how many records ("the share of responses by channel") and the plan
    combines a number column instead of counting rows: the summed scores, not the responses."""
    if profile is None or not plan.files:
        return []
    names = {key(c.name) for i in profile.inputs for t in i.tables for c in t.columns}
    names |= {n + "s" for n in names} | {n.removesuffix("s") for n in names}
    asked = [m.group(1) for m in _COUNTED.finditer(prompt.lower())]
    asked = [n for n in asked if n not in _AMOUNTS and n not in names and len(n) > 2]
    used = _aggregated(plan)
    if not asked or not used or "count" in used:
        return []
    return [
        f"the request asks for the number of {asked[0]}, and {asked[0]!r} is no column: that "
        f"counts rows; the plan combines a column by {', '.join(sorted(used))} instead: set "
        '"agg": "count" and leave y (a table\'s value) out'
    ]


def stated_counts(prompt: str, formats: Sequence[str]) -> dict[str, int]:
    """Format -> the page/slide/sheet count the request states exactly."""
    from promptkiln.checks.requirements import parse

    out: dict[str, int] = {}
    for req in parse(prompt, formats):
        for fmt, kind in SECTION_KINDS.items():
            if req.kind == kind and req.params.get("op", "==") == "==":
                out[fmt] = int(req.params["n"])
    sheets = _SHEETS.search(prompt.lower()) if "xlsx" in formats else None
    if sheets:
        word = sheets.group(1)
        out["xlsx"] = int(word) if word.isdigit() else _WORD_NUMBERS[word]
    return out
