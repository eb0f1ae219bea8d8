"""Column lookup for the plan check: the input tables a planned file's columns may come from,
each column name the plan gives resolved to the real one (case, spaces and underscores do not
matter), and the problems of one file's columns, aggregations, periods and repeated labels,
each one sentence the model can act on."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from promptkiln.checks.plan_request import key as _key
from promptkiln.plan import (
    ColumnProfile,
    OutputFile,
    Profile,
    TableProfile,
    expression_parts,
)

#: Column types that hold numbers.
NUMERIC = ("number", "integer", "bool")


def tables_of(file: OutputFile, profile: Profile | None) -> list[TableProfile]:
    """The tables a file's columns may come from: its named input, else every table."""
    if profile is None:
        return []
    every = [t for i in profile.inputs for t in i.tables]
    if file.input:
        wanted = _key(PurePosixPath(file.input.removeprefix("inputs/")).as_posix())
        named = [
            t
            for i in profile.inputs
            for t in i.tables
            if wanted in (_key(t.name), _key(i.file), _key(t.name.split("!")[-1]))
        ]
        if named:
            return named
    return every


class Columns:
    """Column lookup across a file's tables; collects the problems of one file."""

    def __init__(self, file: OutputFile, profile: Profile | None) -> None:
        self.file = file
        self.tables = tables_of(file, profile)
        self.problems: list[str] = []

    def find(self, name: str | None) -> ColumnProfile | None:
        if name is None:
            return None
        for table in self.tables:
            for col in table.columns:
                if _key(col.name) == _key(name):
                    return col
        return None

    def table_of(self, col: ColumnProfile) -> TableProfile:
        return next(t for t in self.tables if col in t.columns)

    def resolve(self, name: str | None, role: str, where: str) -> str | None:
        """The real name of column ``name``; a problem when the input has no such column."""
        if name is None or not self.tables:
            return name
        col = self.find(name)
        if col is None:
            known = ", ".join(c.name for c in self.tables[0].columns[:20])
            self.problems.append(
                f"{where}: {role} column {name!r} is not in the input; its columns are: {known}"
            )
            return name
        return col.name

    def value(self, name: str | None, role: str, where: str) -> str | None:
        """A value column's real name, or a value computed from number columns
        (``quantity * unit_price``: revenue that no column holds) with their real names."""
        if name is None or not self.tables or self.find(name) is not None:
            return self.resolve(name, role, where)
        parts = expression_parts(name)
        if parts is None:
            return self.resolve(name, role, where)
        out = []
        for part in parts:
            if part in "+-*/()" or _number(part):
                out.append(part)
                continue
            col = self.find(part)
            if col is None:
                return self.resolve(part, role, where)
            if col.dtype not in NUMERIC:
                self.problems.append(
                    f"{where}: {role} {name!r} computes with {col.name!r}, a {col.dtype} "
                    "column, not numbers"
                )
            out.append(col.name)
        return " ".join(out).replace("( ", "(").replace(" )", ")")

    def aggregation(self, agg: str, value: str | None, where: str, role: str) -> None:
        col = self.find(value)
        if agg in ("sum", "mean", "median") and value is not None and col is not None:
            if col.dtype not in NUMERIC:
                self.problems.append(
                    f"{where}: the {agg} of {col.name!r} is wrong, it is a {col.dtype} column; "
                    f"use count, or a number column"
                )
        elif agg in ("min", "max") and col is not None and col.dtype not in (*NUMERIC, "date"):
            self.problems.append(
                f"{where}: the {agg} of {col.name!r} is wrong, it is a {col.dtype} column"
            )
        elif agg in ("sum", "mean", "median", "min", "max") and value is None and self.tables:
            self.problems.append(f"{where}: agg {agg} needs a {role} column to combine")

    def period(self, name: str | None, period: str | None, combined: bool, where: str) -> None:
        """A period counts a date column, combining the rows of each period: a problem on
        any other column (or on none), or with no aggregation."""
        col = self.find(name)
        if period is None or not self.tables:
            return
        if col is None or col.dtype != "date":
            what = f"{col.name!r} is a {col.dtype} column" if col else f"{name!r} is no column"
            self.problems.append(
                f"{where}: period {period} counts a date column per {period}, and {what}; "
                "leave period out"
            )
        elif not combined:
            self.problems.append(
                f"{where}: period {period} combines the rows of each {period}; set agg (sum, "
                "mean, count, ...)"
            )

    def repeats(
        self, label: str | None, agg: str, where: str, what: str, *, series: bool = False
    ) -> None:
        """A category column whose values repeat, drawn or listed row by row."""
        col = self.find(label)
        if col is None or agg != "none":
            return
        rows = self.table_of(col).rows
        if 0 < col.distinct < rows - col.nulls:
            other = ", or series to draw one per value of another column" if series else ""
            self.problems.append(
                f"{where}: {col.name!r} has {col.distinct} distinct values in {rows} rows, so "
                f"{what}; set agg (sum, mean, count, ...) to combine the rows of each "
                f"{col.name}{other}"
            )


def _number(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?", text) is not None
