"""What the inputs hold and what the model says the files will show: data, not prose.

    Profile  what each input holds, computed inside the sandbox by trusted code (never by parsing
             an untrusted file on the host): columns, dtypes, counts, distinct values, ranges.
    Plan     what the model says each output file shows, decoded under this JSON schema
             (``Plan.model_json_schema()``): its title, its charts and tables (columns,
             aggregation, sort, series), its pages/slides/sheets. The platform checks the plan
             against the profile, puts it in the script prompt, and computes from it, with
             trusted code, the numbers the file must show.

The bottom layer: only the standard library and pydantic. Field names are short on purpose: a
small model writes every key of the plan, and each token costs time.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: How values of one group (or of the whole column) are combined; ``none`` plots/lists rows as they are.
Aggregation = Literal["none", "sum", "mean", "count", "min", "max", "median"]
#: Order of the categories by value: ``desc`` is highest first.
Sort = Literal["none", "asc", "desc"]
ChartKind = Literal[
    "bar", "barh", "stacked_bar", "grouped_bar", "line", "area", "pie", "scatter", "hist"
]
Dtype = Literal["number", "integer", "text", "date", "bool", "empty"]
#: The calendar period a date column is counted in (x of a chart, group of a table): the
#: rows of one month are combined like those of one category.
Period = Literal["day", "week", "month", "quarter", "year"]
#: pandas' period code of each, and how its labels read: 2024-03-01, 2024-02-26/2024-03-03,
#: 2024-03, 2024Q1, 2024.
PERIOD_CODES = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


#: An operator or parenthesis of a value expression (``quantity * unit_price``).
_EXPR_OPS = re.compile(r"\s*([-+*/()])\s*")


def expression_parts(text: str) -> list[str] | None:
    """The tokens of a value that is arithmetic over columns (``quantity * unit_price``,
    ``(price - cost) / price``): names, numbers, ``+ - * / ( )``; None when ``text`` has no
    operator or no name (then it is one column's name, or nothing usable). A column whose own
    name holds an operator (``year-to-date``) is matched as a whole before this is tried."""
    parts = [p.strip() for p in _EXPR_OPS.split(text) if p.strip()]
    if not any(p in "+-*/" for p in parts) or parts[-1] in "+-*/(" or parts[0] in "*/)":
        return None
    names = [p for p in parts if p not in "+-*/()" and not _is_number(p)]
    return parts if names else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the profile: computed, never written by a model --------------------------------------------


class ColumnProfile(_Model):
    name: str
    dtype: Dtype
    nulls: int = 0
    distinct: int = 0
    #: numbers: the column's range and mean
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    #: dates: first and last, ISO 8601
    first: str | None = None
    last: str | None = None
    #: low-cardinality text columns: each value with its row count, most frequent first
    values: dict[str, int] | None = None


class TableProfile(_Model):
    #: the input file's name, with ``!Sheet`` for a workbook's sheet (``sales.xlsx!Q1``)
    name: str
    rows: int
    columns: list[ColumnProfile]
    #: the first rows, as text
    head: list[list[str]] = Field(default_factory=list)


class InputProfile(_Model):
    file: str
    kind: Literal["table", "json", "text", "image", "other"]
    tables: list[TableProfile] = Field(default_factory=list)
    #: JSON: its shape (``list[object{region: str, revenue: number}] x 12``)
    shape: str | None = None
    #: why the file could not be profiled, when it could not
    error: str | None = None


class Profile(_Model):
    inputs: list[InputProfile] = Field(default_factory=list)

    def table(self, name: str | None = None) -> TableProfile | None:
        """The table of that input (file or ``file!sheet``), or the first table of any input."""
        for item in self.inputs:
            for table in item.tables:
                if name is None or name in (table.name, item.file):
                    return table
        return None


# --- the plan: written by the model, checked by the platform ------------------------------------


class Chart(_Model):
    kind: ChartKind
    title: str
    #: input column on the category / x axis (``None``: the data is in the request, see ``values``)
    x: str | None = None
    #: input column of the values (``None`` with ``agg="count"``: rows are counted)
    y: str | None = None
    #: several input columns drawn side by side, one series each, instead of ``y`` (wide data:
    #: ``q1``..``q4`` per region); combined per x with ``agg`` like ``y``
    ys: list[str] = Field(default_factory=list)
    #: input column whose distinct values become separate series (a line per city, a bar group per year)
    series: str | None = None
    agg: Aggregation = "none"
    #: x is a date column counted per this period (revenue per month from daily rows)
    period: Period | None = None
    sort: Sort = "none"
    #: only the first N categories after sorting (the top 5), when the request limits them
    limit: int | None = None
    #: numbers the request itself states, label -> value, when there is no input column
    values: dict[str, float] | None = None


class Table(_Model):
    #: the columns shown, in order: input columns, or for a grouped table the group and the value
    columns: list[str]
    #: input column whose values become the rows of a grouped table
    group: str | None = None
    #: input column aggregated per group
    value: str | None = None
    agg: Aggregation = "none"
    #: group is a date column counted per this period
    period: Period | None = None
    #: several aggregations of ``value`` instead of ``agg``: one row each (the count, mean, min
    #: and max of a column), or with ``group`` one column each
    aggs: list[Aggregation] = Field(default_factory=list)
    sort: Sort = "none"
    #: only the first N rows after sorting (the top 5), when the request limits them
    limit: int | None = None


class OutputFile(_Model):
    #: file name with its extension, e.g. ``report.pdf``
    name: str
    title: str
    #: the input file (or ``file!sheet``) the data comes from, if any
    input: str | None = None
    charts: list[Chart] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    #: titles of the pages, slides or sheets, in order, when the request names or counts them
    sections: list[str] = Field(default_factory=list)


class Plan(_Model):
    files: list[OutputFile]
