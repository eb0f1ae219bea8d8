"""The numbers a file must show, computed by our own code from the plan and the inputs.

The model's plan says what each chart and table shows (x, y, series, aggregation, sort); this
module turns each of those parts into a :class:`Spec`, and computes every spec's expected values
with a fixed script of ours (:data:`SCRIPT`) run in a fresh sandbox over ``./inputs/``: the
inputs are untrusted files, and they are never parsed on the host. Nothing of the model's script
takes part, so a wrong aggregation in the script cannot make its own expectation.

    specs = specs_for(plan)                    # [Spec(id="f0c0", ...)]
    script_for(specs, prompt)                  # run in a sandbox by promptkiln.making.expected
    parse_answer(stdout)                       # {"f0c0": Expected(values={...}, order=[...])}

A spec whose columns the inputs do not have (the plan checks catch that earlier), or that the
data cannot answer, gets ``error`` instead of values, and its check is skipped, not failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptkiln.checks.expected_script import MARK as _MARK
from promptkiln.checks.expected_script import SCRIPT
from promptkiln.plan import PERIOD_CODES, Chart, Plan, Profile, Table


@dataclass(frozen=True)
class Spec:
    """One chart or table of one output file, as the numbers it must show."""

    id: str  #: ``f{file}c{chart}`` or ``f{file}t{table}``
    file: str  #: the output file's name
    part: str  #: "chart" / "table"
    kind: str  #: the chart kind, or "table"
    input: str | None
    x: str | None
    y: str | None
    series: str | None
    agg: str
    sort: str
    #: numbers the request itself states (``Chart.values``): no computation needed
    stated: dict[str, float] | None = None
    #: several value columns, one series each (``Chart.ys``)
    ys: tuple[str, ...] = ()
    #: several aggregations of ``y`` (``Table.aggs``): one series (column) each per group, or,
    #: without ``x``, one figure each
    aggs: tuple[str, ...] = ()
    #: a listing of input rows (``y`` by a unique ``x``): the rows shown must hold the input's
    #: values, but a listing may show only some rows (filtered, the first N)
    listing: bool = False
    #: x is a date column counted per this calendar period (``Chart.period``)
    period: str | None = None

    def noun(self) -> str:
        """What the part is, in words: "table", "horizontal bar chart", "histogram"."""
        if self.part == "table":
            return "table"
        return {
            "barh": "horizontal bar chart",
            "stacked_bar": "stacked bar chart",
            "grouped_bar": "grouped bar chart",
            "hist": "histogram",
        }.get(self.kind, f"{self.kind} chart")

    def describe(self) -> str:
        """The spec in words: "the sum of Revenue per Region, highest first"."""
        aggs = ", ".join(self.aggs or (self.agg,))
        if self.kind == "hist":
            return f"every value of {self.y}"
        if self.stated:
            what = "the numbers the request states"
        elif self.x is None and self.ys and self.series:
            return f"{', '.join(self.ys)} of each {self.series}, one series each"
        elif self.x is None:
            what = f"the {aggs} of {self.y}"
        elif self.ys:
            what = f"{', '.join(self.ys)} per {self.x}" + (
                f" ({self.agg})" if self.agg != "none" else ""
            )
        elif self.aggs:
            what = f"the {aggs} of {self.y} per {self.x}"
        elif self.agg == "count":
            what = f"the count of rows per {self.x}"
        elif self.agg != "none":
            what = f"the {self.agg} of {self.y} per {self.x}"
        elif self.listing:
            what = f"each {self.x}'s {self.y} as the input has it"
        else:
            what = f"{self.y} by {self.x}"
        if self.period:
            what += f" (per {self.period})"
        if self.series:
            what += f", one series per {self.series}"
        if self.sort == "desc":
            what += ", highest first"
        elif self.sort == "asc":
            what += ", lowest first"
        return what


@dataclass(frozen=True)
class Expected:
    """What a spec's data gives: label -> value (or per series), in the expected order."""

    values: dict[str, float] = field(default_factory=dict)
    series: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the labels in the order the file must show them (sorted specs), else in data order
    order: list[str] = field(default_factory=list)
    rows: int = 0  #: rows of the input behind it
    error: str | None = None
    #: the same numbers over a subset the request may mean (a value or a year of another
    #: column that the prompt names: "2024 revenue"); a file that shows one of them passes
    alternatives: list[Expected] = field(default_factory=list)
    filter: str | None = None  #: the subset, for an alternative: "year = 2024"
    #: the request names this subset as the only rows it means ("2024 revenue per region", the
    #: one value it names): the file must show it, not the whole table
    required: bool = False
    #: a scatter plot's (x, y) pairs, one per input row whose two values are numbers
    pairs: list[tuple[float, float]] = field(default_factory=list)
    #: whether ``pairs`` holds every such row (else the first ones, and only ranges are judged)
    pairs_all: bool = True


def specs_for(plan: Plan, profile: Profile | None = None) -> list[Spec]:
    """A spec per chart and per grouped/aggregated table of the plan that names its data, and,
    given the inputs' profile, per listing of rows with a unique label and a number column."""
    out: list[Spec] = []
    for i, f in enumerate(plan.files):
        for j, c in enumerate(f.charts):
            spec = _chart_spec(f"f{i}c{j}", f.name, f.input, c)
            if spec is not None:
                out.append(spec)
        for j, t in enumerate(f.tables):
            spec = _table_spec(f"f{i}t{j}", f.name, f.input, t)
            if spec is None and profile is not None:
                spec = _listing_spec(f"f{i}t{j}", f.name, f.input, t, profile)
            if spec is not None:
                out.append(spec)
    return out


def _listing_spec(
    sid: str, name: str, source: str | None, t: Table, profile: Profile
) -> Spec | None:
    """A listing of input rows as label -> number: its first listed column whose values are
    unique (the rows' names) and its first listed number column."""
    if t.group is not None or t.value is not None or t.agg != "none" or t.aggs:
        return None
    table = profile.table(source) if source else None
    if table is None:
        return None
    cols = {c.name: c for c in table.columns}
    listed = [cols[c] for c in t.columns if c in cols]
    label = next(
        (c for c in listed if c.dtype in ("text", "date")
         and c.nulls == 0 and c.distinct == table.rows),
        None,
    )  # fmt: skip
    value = next((c for c in listed if c.dtype in ("number", "integer")), None)
    if label is None or value is None:
        return None
    return Spec(sid, name, "table", "table", source, label.name, value.name, None, "none",
                t.sort, listing=True)  # fmt: skip


def _chart_spec(sid: str, name: str, source: str | None, c: Chart) -> Spec | None:
    if c.values:
        return Spec(sid, name, "chart", c.kind, None, c.x, c.y, None, "none", c.sort, c.values)
    ys = tuple(c.ys)
    if c.x is None and ys and c.series and c.kind != "hist":  # wide data, read across a row
        return Spec(sid, name, "chart", c.kind, source, None, None, c.series, c.agg, c.sort, ys=ys)
    if c.kind == "hist":  # the bins are the library's choice; the values counted are not
        column = c.y or c.x
        if column is None or ys:
            return None
        return Spec(sid, name, "chart", "hist", source, None, column, None, "count", "none",
                    aggs=("count", "min", "max"))  # fmt: skip
    if c.x is None or (c.y is None and not ys and c.agg != "count"):
        return None
    series = None if ys else c.series
    return Spec(sid, name, "chart", c.kind, source, c.x, c.y, series, c.agg, c.sort, ys=ys,
                period=c.period)  # fmt: skip


def _table_spec(sid: str, name: str, source: str | None, t: Table) -> Spec | None:
    aggs = tuple(t.aggs)
    if t.agg == "none" and not aggs:
        return None  # a plain listing of input rows: its columns are checked, not its numbers
    if t.value is None and (t.agg != "count" or t.group is None):
        return None
    agg = t.agg if t.agg != "none" else aggs[0]
    return Spec(sid, name, "table", "table", source, t.group, t.value, None, agg, t.sort,
                aggs=aggs, period=t.period)  # fmt: skip


def pending(specs: Sequence[Spec]) -> tuple[dict[str, Expected], list[Spec]]:
    """The specs whose numbers the request states (answered here), and those the sandbox
    script must compute from the inputs."""
    done = {s.id: _stated(s) for s in specs if s.stated}
    return done, [s for s in specs if not s.stated]


def script_for(specs: Sequence[Spec], prompt: str = "") -> bytes:
    """:data:`SCRIPT` with the specs (and the request, for the subsets it names) filled in."""
    payload = [
        {"id": s.id, "kind": s.kind, "input": s.input, "x": s.x, "y": s.y, "series": s.series,
         "agg": s.agg, "sort": s.sort, "ys": list(s.ys), "aggs": list(s.aggs),
         "period": PERIOD_CODES.get(s.period or "")}
        for s in specs
    ]  # fmt: skip
    script = SCRIPT.replace("SPECS_JSON", json.dumps(json.dumps(payload)))
    return script.replace("PROMPT_JSON", json.dumps(json.dumps(prompt[:4000]))).encode()


def _stated(s: Spec) -> Expected:
    values = dict(s.stated or {})
    order = list(values)
    if s.sort != "none":
        order = sorted(values, key=lambda k: values[k], reverse=s.sort == "desc")
    return Expected(values=values, order=order, rows=len(values))


def parse_answer(stdout: str) -> dict[str, Expected]:
    """The expected values the sandbox script printed (its last marked line)."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith(_MARK)), None)
    if line is None:
        return {}
    try:
        doc = json.loads(line[len(_MARK) :])
    except ValueError:
        return {}
    out: dict[str, Expected] = {}
    for sid, item in doc.items() if isinstance(doc, dict) else ():
        if not isinstance(item, dict):
            continue
        if item.get("error"):
            out[sid] = Expected(error=str(item["error"])[:300])
            continue
        out[sid] = _expected(item)
    return out


def _expected(item: dict[str, Any]) -> Expected:
    alternatives = item.get("alternatives")
    return Expected(
        values=_floats(item.get("values")),
        series={str(s): _floats(vals) for s, vals in (item.get("series") or {}).items()},
        order=[str(x) for x in item.get("order") or []],
        rows=int(item.get("rows") or 0),
        alternatives=[
            _expected(a) for a in alternatives if isinstance(a, dict) and not a.get("error")
        ]
        if isinstance(alternatives, list)
        else [],
        filter=str(item["filter"]) if item.get("filter") else None,
        required=item.get("required") is True,
        pairs=_pairs(item.get("pairs")),
        pairs_all=bool(item.get("pairs_all", True)),
    )


def _pairs(raw: Any) -> list[tuple[float, float]]:
    if not isinstance(raw, list):
        return []
    return [
        (float(p[0]), float(p[1]))
        for p in raw
        if isinstance(p, list) and len(p) == 2 and all(isinstance(v, int | float) for v in p)
    ]


def _floats(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}
