"""Profile every file under ./inputs/ and print it as one JSON line (``promptkiln.plan.Profile``).

Trusted code, shipped as package data and run *inside the sandbox* (never imported on the host:
the inputs are untrusted, and parsing them is the sandbox's job). It needs only the standard
library and the image's pandas (with openpyxl and pyarrow). A file that cannot be read gets an
``error`` of its own; the others are still profiled. The output is kept under :data:`MAX_CHARS`
by dropping detail (first rows, then value counts, then columns), never by cutting JSON.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

INPUTS = Path("inputs")
#: The JSON printed is kept under this many characters (the sandbox keeps 64 KiB of stdout).
MAX_CHARS = 40_000
#: Text (and integer) columns with at most this many distinct values list them with counts.
LOW_CARDINALITY = 20
INTEGER_VALUES = 6
HEAD_ROWS = 3
CELL_CHARS = 40
NAME_CHARS = 80
MAX_COLUMNS = 60
MAX_SHEETS = 12
IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
TEXTS = {".txt", ".md", ".html", ".htm", ".xml", ".yaml", ".yml", ".log"}


def short(value: Any, limit: int = CELL_CHARS) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(out) or math.isinf(out):
        return None
    return float(f"{out:.6g}")


def iso(value: Any) -> str:
    text = str(value.isoformat()) if hasattr(value, "isoformat") else str(value)
    return text[:10] if text.endswith("T00:00:00") else text


def column(pd: Any, name: Any, series: Any) -> dict[str, Any]:
    """One column's profile: its dtype, nulls, distinct values, range or value counts."""
    api = pd.api.types
    values = series.dropna()
    if values.dtype == object:
        values = values[values.astype(str).str.strip() != ""]
    out: dict[str, Any] = {"name": short(name, NAME_CHARS), "nulls": int(len(series) - len(values))}
    if len(values) == 0:
        out["dtype"] = "empty"
        return out
    kind = "text"
    if api.is_bool_dtype(values):
        kind = "bool"
    elif api.is_integer_dtype(values):
        kind = "integer"
    elif api.is_float_dtype(values):
        kind = "integer" if bool((values % 1 == 0).all()) else "number"
    elif api.is_datetime64_any_dtype(values):
        kind = "date"
    else:
        as_text = values.astype(str).str.strip()
        numbers = pd.to_numeric(as_text.str.replace(",", "", regex=False), errors="coerce")
        if numbers.notna().all():
            values, kind = numbers, "number"
        elif as_text.str.contains(r"\d[-/.]\d", regex=True).mean() > 0.9:
            dates = pd.to_datetime(as_text, errors="coerce", format="mixed")
            if dates.notna().mean() > 0.9:
                values, kind = dates.dropna(), "date"
    out["dtype"] = kind
    try:
        out["distinct"] = int(values.nunique())
    except TypeError:  # unhashable cells (lists in a JSON record)
        out["distinct"] = int(values.astype(str).nunique())
    if kind in ("integer", "number"):
        out["min"], out["max"] = number(values.min()), number(values.max())
        out["mean"] = number(values.mean())
    elif kind == "date":
        out["first"], out["last"] = iso(values.min()), iso(values.max())
    limit = INTEGER_VALUES if kind == "integer" else LOW_CARDINALITY
    if kind in ("text", "bool", "integer") and out["distinct"] <= limit:
        counts = values.astype(str).map(short).value_counts()
        out["values"] = {str(k): int(v) for k, v in counts.items()}
    return out


def table(pd: Any, name: str, df: Any) -> dict[str, Any]:
    df = df.dropna(how="all")
    columns = [column(pd, c, df[c]) for c in list(df.columns)[:MAX_COLUMNS]]
    head = [[short(v) for v in row] for row in df.head(HEAD_ROWS).astype(object).values.tolist()]
    head = [["" if cell in ("nan", "NaT", "None") else cell for cell in row] for row in head]
    return {"name": name, "rows": len(df), "columns": columns, "head": head}


def shape(value: Any, depth: int = 0) -> str:
    """A JSON value's shape: ``list[object{region: str, revenue: number}] x 12``."""
    if isinstance(value, dict):
        if depth > 2:
            return "object"
        inner = ", ".join(
            f"{short(k, 30)}: {shape(v, depth + 1)}" for k, v in list(value.items())[:12]
        )
        more = ", …" if len(value) > 12 else ""
        return f"object{{{inner}{more}}}"
    if isinstance(value, list):
        first = shape(value[0], depth + 1) if value else "empty"
        return f"list[{first}] x {len(value)}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "str"


def records(value: Any) -> tuple[str, list[Any]] | None:
    """The list of records in a JSON document: itself, or its one list-of-objects member."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "", value
    if isinstance(value, dict):
        found = [
            (k, v)
            for k, v in value.items()
            if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)
        ]
        if len(found) == 1:
            return str(found[0][0]), found[0][1]
    return None


def read_csv(pd: Any, path: Path) -> Any:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            df = pd.read_csv(path, sep=sep, encoding=encoding)
        except UnicodeDecodeError:
            continue
        if sep == "," and len(df.columns) == 1 and ";" in str(df.columns[0]):
            df = pd.read_csv(path, sep=";", encoding=encoding)
        return df
    raise ValueError("not UTF-8 or Latin-1 text")


def profile_file(pd: Any, path: Path) -> dict[str, Any]:
    name, suffix = path.name, path.suffix.lower()
    item: dict[str, Any] = {"file": short(name, NAME_CHARS), "kind": "other"}
    if suffix in (".csv", ".tsv"):
        item["kind"], item["tables"] = "table", [table(pd, name, read_csv(pd, path))]
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        sheets = pd.read_excel(path, sheet_name=None)
        item["kind"] = "table"
        item["tables"] = [
            table(pd, f"{name}!{s}", df) for s, df in list(sheets.items())[:MAX_SHEETS]
        ]
    elif suffix in (".parquet", ".pq"):
        item["kind"], item["tables"] = "table", [table(pd, name, pd.read_parquet(path))]
    elif suffix in (".json", ".jsonl", ".ndjson"):
        text = path.read_text(encoding="utf-8-sig")
        if suffix == ".json":
            value = json.loads(text)
        else:
            value = [json.loads(line) for line in text.splitlines() if line.strip()]
        item["kind"], item["shape"] = "json", shape(value)
        found = records(value)
        if found is not None:
            key, rows = found
            df = pd.json_normalize(rows, max_level=1)
            item["tables"] = [table(pd, f"{name}!{key}" if key else name, df)]
    elif suffix in IMAGES:
        item["kind"] = "image"
        try:
            image = importlib.import_module("PIL.Image").open(path)
            item["shape"] = f"{image.width}x{image.height} px, {image.mode}"
        except Exception as exc:  # an image PIL cannot open is still an image file
            item["error"] = short(f"{type(exc).__name__}: {exc}", 200)
    elif suffix in TEXTS:
        text = path.read_text(encoding="utf-8", errors="replace")
        item["kind"], item["shape"] = (
            "text",
            f"{len(text.splitlines())} lines, {len(text.split())} words",
        )
    return item


def fit(profile: dict[str, Any]) -> str:
    """The profile as JSON of at most MAX_CHARS: detail is dropped until it fits."""

    def dump() -> str:
        return json.dumps(profile, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    text = dump()
    tables = [t for i in profile["inputs"] for t in i.get("tables", [])]
    for step in ("head", "values", "columns"):
        if len(text) <= MAX_CHARS:
            break
        for t in tables:
            if step == "head":
                t["head"] = []
            elif step == "values":
                for c in t["columns"]:
                    c.pop("values", None)
            else:
                t["columns"] = t["columns"][:10]
        text = dump()
    while len(text) > MAX_CHARS and profile["inputs"]:
        profile["inputs"].pop()
        text = dump()
    return text


def main() -> int:
    pd = importlib.import_module("pandas")
    items = []
    files = sorted(INPUTS.iterdir()) if INPUTS.is_dir() else []
    for path in files:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            items.append(profile_file(pd, path))
        except Exception as exc:  # one bad file: say why, profile the others
            message = short(f"{type(exc).__name__}: {exc}", 200)
            items.append({"file": short(path.name, NAME_CHARS), "kind": "other", "error": message})
    sys.stdout.write(fit({"inputs": items}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
