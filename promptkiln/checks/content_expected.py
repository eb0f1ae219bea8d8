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

from promptkiln.plan import Chart, Plan, Table

#: Groups kept per spec (and points per series): the checks need no more, and the answer
#: must fit in the sandbox's captured stdout.
MAX_GROUPS = 60
_MARK = "promptkiln-expected:"


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

    def describe(self) -> str:
        """The spec in words: "the sum of Revenue per Region, highest first"."""
        aggs = ", ".join(self.aggs or (self.agg,))
        if self.stated:
            what = "the numbers the request states"
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
        else:
            what = f"{self.y} by {self.x}"
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


def specs_for(plan: Plan) -> list[Spec]:
    """A spec per chart and per grouped/aggregated table of the plan that names its data."""
    out: list[Spec] = []
    for i, f in enumerate(plan.files):
        for j, c in enumerate(f.charts):
            spec = _chart_spec(f"f{i}c{j}", f.name, f.input, c)
            if spec is not None:
                out.append(spec)
        for j, t in enumerate(f.tables):
            spec = _table_spec(f"f{i}t{j}", f.name, f.input, t)
            if spec is not None:
                out.append(spec)
    return out


def _chart_spec(sid: str, name: str, source: str | None, c: Chart) -> Spec | None:
    if c.values:
        return Spec(sid, name, "chart", c.kind, None, c.x, c.y, None, "none", c.sort, c.values)
    ys = tuple(c.ys)
    if c.x is None or (c.y is None and not ys and c.agg != "count") or c.kind == "hist":
        return None  # a histogram's bins are the library's choice: its title is still checked
    series = None if ys else c.series
    return Spec(sid, name, "chart", c.kind, source, c.x, c.y, series, c.agg, c.sort, ys=ys)


def _table_spec(sid: str, name: str, source: str | None, t: Table) -> Spec | None:
    aggs = tuple(t.aggs)
    if t.agg == "none" and not aggs:
        return None  # a plain listing of input rows: its columns are checked, not its numbers
    if t.value is None and (t.agg != "count" or t.group is None):
        return None
    agg = t.agg if t.agg != "none" else aggs[0]
    return Spec(sid, name, "table", "table", source, t.group, t.value, None, agg, t.sort,
                aggs=aggs)  # fmt: skip


def pending(specs: Sequence[Spec]) -> tuple[dict[str, Expected], list[Spec]]:
    """The specs whose numbers the request states (answered here), and those the sandbox
    script must compute from the inputs."""
    done = {s.id: _stated(s) for s in specs if s.stated}
    return done, [s for s in specs if not s.stated]


def script_for(specs: Sequence[Spec], prompt: str = "") -> bytes:
    """:data:`SCRIPT` with the specs (and the request, for the subsets it names) filled in."""
    payload = [
        {"id": s.id, "input": s.input, "x": s.x, "y": s.y, "series": s.series,
         "agg": s.agg, "sort": s.sort, "ys": list(s.ys), "aggs": list(s.aggs)}
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
    )


def _floats(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}


#: Runs in the sandbox (pandas is in the image). Reads the input a spec names (a CSV/TSV, a
#: workbook's sheet, a JSON table, a Parquet file), matches column names as written or
#: case-insensitively, aggregates, and prints one marked JSON line.
SCRIPT = (
    r"""
import json, math, os, re, sys, warnings
import pandas as pd

SPECS = json.loads(SPECS_JSON)
PROMPT = json.loads(PROMPT_JSON)
MAX_GROUPS = """
    + str(MAX_GROUPS)
    + r'''
TABLE_EXT = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".json", ".parquet")
_cache = {}


def load(name):
    sheet = None
    if name and "!" in name:
        name, sheet = name.split("!", 1)
    files = sorted(f for f in os.listdir("inputs") if f.lower().endswith(TABLE_EXT))
    if not name:
        if not files:
            raise ValueError("no table among the inputs")
        name = files[0]
    key = (name, sheet)
    if key in _cache:
        return _cache[key]
    path = os.path.join("inputs", os.path.basename(name))
    low = path.lower()
    if low.endswith((".xlsx", ".xlsm", ".xls")):
        df = pd.read_excel(path, sheet_name=sheet if sheet else 0)
    elif low.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            data = lists[0] if len(lists) == 1 else [data]
        df = pd.json_normalize(data)
    elif low.endswith(".parquet"):
        df = pd.read_parquet(path)
    elif low.endswith(".tsv"):
        df = pd.read_csv(path, sep="\t")
    else:
        df = pd.read_csv(path, sep=None, engine="python")
    df.columns = [str(c).strip() for c in df.columns]
    _cache[key] = df
    return df


def column(df, name):
    if name in df.columns:
        return name
    for c in df.columns:
        if c.lower() == str(name).strip().lower():
            return c
    raise KeyError(f"the inputs have no column {name!r}")


OPS = re.compile(r"\s*([-+*/()])\s*")


def derive(df, name):
    """df with the value ``name`` as a column: an input column, or arithmetic over its number
    columns ("quantity * unit_price"), as the plan checks allowed it."""
    try:
        return df, column(df, name)
    except KeyError:
        parts = [p.strip() for p in OPS.split(name) if p.strip()]
        if not any(p in "+-*/" for p in parts):
            raise
    cols, code = [], []
    for p in parts:
        if p in "+-*/()" or re.fullmatch(r"\d+(?:\.\d+)?", p):
            code.append(p)
        else:
            cols.append(pd.to_numeric(df[column(df, p)], errors="coerce"))
            code.append(f"C[{len(cols) - 1}]")
    values = eval(" ".join(code), {"__builtins__": {}}, {"C": cols})
    return df.assign(**{name: values}), name


def label(value):
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def number(value):
    v = float(value)
    return v if math.isfinite(v) else None


def aggregate(frame, x, y, agg):
    if agg == "count":
        s = frame.groupby(x, sort=False).size() if y is None else frame.groupby(x, sort=False)[y].count()
    elif agg == "none":
        s = frame.set_index(x)[y]
    else:
        s = frame.groupby(x, sort=False)[y].agg(agg)
    return s


def filters(df, used):
    """Subsets the request may mean: a value of another column that the prompt names
    ("2024", "Online"), or a year the prompt names of a date column."""
    found = []
    for c in df.columns:
        if c in used:
            continue
        col = df[c]
        try:
            distinct = col.dropna().unique()
        except TypeError:
            continue
        if 0 < len(distinct) <= 50:
            labels = col.map(label)
            for v in distinct:
                text = label(v)
                if len(text) >= 3 and re.search(
                    r"(?<![\w])" + re.escape(text) + r"(?![\w])", PROMPT, re.I
                ):
                    found.append((f"{c} = {text}", labels == text))
        if col.dtype == object or "datetime" in str(col.dtype):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dates = pd.to_datetime(col, errors="coerce")
            if len(col) and dates.notna().mean() >= 0.9:
                for year in sorted(set(re.findall(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", PROMPT))):
                    mask = dates.dt.year == int(year)
                    if mask.any() and not mask.all():
                        found.append((f"{c} in {year}", mask))
    return found[:6]


def compute(spec):
    df = load(spec["input"])
    out = compute_on(df, spec)
    names = set()
    for k in ("x", "y", "series"):
        if spec.get(k):
            names.update(p.strip().lower() for p in OPS.split(spec[k]) + [spec[k]])
    used = {c for c in df.columns if c.lower() in names}
    alternatives = []
    for name, mask in filters(df, used):
        try:
            alt = compute_on(df[mask.fillna(False).astype(bool)], spec)
        except Exception:
            continue
        alt["filter"] = name
        alternatives.append(alt)
    out["alternatives"] = alternatives
    return out


def as_map(s):
    return {label(k): number(v) for k, v in list(s.items())[:MAX_GROUPS * 4]}


def compute_on(df, spec):
    x = column(df, spec["x"]) if spec.get("x") else None
    y = None
    if spec.get("y"):
        df, y = derive(df, spec["y"])
    ys = []
    for name in spec.get("ys") or []:
        df, col = derive(df, name)
        ys.append(col)
    aggs = list(spec.get("aggs") or [])
    agg = spec["agg"]
    for col in ys + ([y] if y is not None and (agg != "count" or aggs) else []):
        df = df.assign(**{col: pd.to_numeric(df[col], errors="coerce")})
    out = {"rows": int(len(df))}
    if x is None:  # one figure per aggregation of y: the total, the mean
        names = aggs or [agg]
        out["values"] = {a: number(df[y].count() if a == "count" else df[y].agg(a)) for a in names}
        out["order"] = list(out["values"])
        return out
    if ys or aggs:  # several columns, or several aggregations: one series each
        series = {col: as_map(aggregate(df, x, col, agg)) for col in ys}
        series.update({a: as_map(aggregate(df, x, y, a)) for a in aggs})
        out["series"] = series
        return out
    if spec.get("series"):
        ser = column(df, spec["series"])
        groups = {}
        for key, part in list(df.groupby(ser, sort=True))[:MAX_GROUPS]:
            s = aggregate(part, x, y, agg if agg != "none" else "none")
            groups[label(key)] = {label(k): number(v) for k, v in list(s.items())[:MAX_GROUPS * 4]}
        out["series"] = groups
        return out
    s = aggregate(df, x, y, agg)
    if agg == "none" and s.index.has_duplicates:
        out["points"] = True
    values = {}
    for k, v in s.items():
        values.setdefault(label(k), number(v))
    if spec["sort"] in ("asc", "desc"):
        order = sorted((k for k in values if values[k] is not None),
                       key=lambda k: values[k], reverse=spec["sort"] == "desc")
    else:
        order = list(values)
    out["values"] = {k: values[k] for k in order[: MAX_GROUPS * 4]}
    out["order"] = order[: MAX_GROUPS * 4]
    return out


answers = {}
for spec in SPECS:
    try:
        answers[spec["id"]] = compute(spec)
    except Exception as exc:
        answers[spec["id"]] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
print("'''
    + _MARK
    + r"""" + json.dumps(answers, default=str))
"""
)
