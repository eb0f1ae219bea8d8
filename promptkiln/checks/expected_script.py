"""The fixed script that computes the numbers a file must show, run in a fresh sandbox.

:mod:`promptkiln.checks.content_expected` fills in its specs (``SPECS_JSON``) and the request
(``PROMPT_JSON``) and parses the one line it prints after :data:`MARK`. It is our code, not the
model's: a wrong aggregation in the model's script cannot make its own expectation.
"""

from __future__ import annotations

#: Groups kept per spec (and points per series): the checks need no more, and the answer
#: must fit in the sandbox's captured stdout.
MAX_GROUPS = 60
#: (x, y) pairs kept for a scatter plot: more rows are judged by the columns' ranges only.
MAX_PAIRS = 1000
MARK = "promptkiln-expected:"

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
    + "\nMAX_PAIRS = "
    + str(MAX_PAIRS)
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


#: Words before a named value that make it something other than "only these rows": a range
#: ("since 2022"), an exclusion ("except East"), an inclusion ("including web orders"), a
#: comparison ("2023 vs 2024").
NOT_ONLY = re.compile(
    r"(?:since|after|before|from|until|till|through|to|between|and|or|vs\.?|versus|than|"
    r"except|excluding|without|besides|not|non|other|including|incl\.?|plus|also|as well as)"
    r"\W+(?:the\W+)?$", re.I
)


def named(text):
    """Where the prompt names ``text`` as a word: the match, or None."""
    return re.search(r"(?<![\w])" + re.escape(text) + r"(?![\w])", PROMPT, re.I)


def only(match):
    """Whether a named value reads as "only these rows" ("2024 revenue", "the open tickets"),
    not as a range, an exclusion or one side of a comparison."""
    return match is not None and not NOT_ONLY.search(PROMPT[max(0, match.start() - 24):match.start()])


def filters(df, used):
    """Subsets the request may mean: a value of another column that the prompt names
    ("2024", "Online"), or a year the prompt names of a date column. Each as (name, mask, the
    text that names it, whether it reads as "only these rows": a text value, or a year)."""
    found = []
    for c in df.columns:
        if c in used:
            continue
        col = df[c]
        try:
            distinct = col.dropna().unique()
        except TypeError:
            continue
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if 0 < len(distinct) <= 50:
            labels = col.map(label)
            for v in distinct:
                text = label(v)
                match = named(text) if len(text) >= 3 else None
                if match is not None:
                    year = re.fullmatch(r"(?:19|20)\d\d", text) is not None
                    alone = only(match) and (not numeric or year)
                    found.append((f"{c} = {text}", labels == text, text.lower(), alone))
        if col.dtype == object or "datetime" in str(col.dtype):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dates = pd.to_datetime(col, errors="coerce")
            if len(col) and dates.notna().mean() >= 0.9:
                years = {}
                for m in re.finditer(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", PROMPT):
                    years[m.group(1)] = years.get(m.group(1), False) or only(m)
                for year, alone in sorted(years.items()):
                    mask = dates.dt.year == int(year)
                    if mask.any() and not mask.all():
                        found.append((f"{c} in {year}", mask, year, alone))
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
    found = filters(df, used)
    # one value (or year) the prompt names as "only these rows": its subset is what the file
    # must show, not the whole table ("2024 revenue per region" of 2023 and 2024 rows)
    texts = {text for _, _, text, _ in found}
    for name, mask, _, alone in found:
        try:
            alt = compute_on(df[mask.fillna(False).astype(bool)], spec)
        except Exception:
            continue
        alt["filter"] = name
        alt["required"] = bool(alone) and len(texts) == 1
        alternatives.append(alt)
    out["alternatives"] = alternatives
    return out


def as_map(s):
    return {label(k): number(v) for k, v in list(s.items())[:MAX_GROUPS * 4]}


def compute_on(df, spec):
    x = column(df, spec["x"]) if spec.get("x") else None
    if x is not None and spec.get("period"):  # a date column counted per month: 2024-03
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dates = pd.to_datetime(df[x], errors="coerce")
        df = df[dates.notna()].assign(**{x: dates.dropna().dt.to_period(spec["period"]).astype(str)})
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
    if spec.get("kind") == "scatter" and x is not None and y is not None and agg == "none":
        xy = pd.DataFrame({"x": pd.to_numeric(df[x], errors="coerce"), "y": df[y]}).dropna()
        if len(xy) and len(xy) >= 0.9 * df[x].notna().sum():  # two number columns
            out["pairs"] = [[number(a), number(b)] for a, b in xy.values[:MAX_PAIRS]]
            out["pairs_all"] = len(xy) <= MAX_PAIRS
    if x is None and ys and spec.get("series"):  # wide data: a series per row label
        ser = column(df, spec["series"])
        t = df.groupby(ser, sort=False)[ys].agg(agg if agg not in ("none", "count") else "sum")
        out["series"] = {label(k): {c: number(row[c]) for c in ys}
                         for k, row in list(t.iterrows())[:MAX_GROUPS]}
        return out
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
    + MARK
    + r"""" + json.dumps(answers, default=str))
"""
)
