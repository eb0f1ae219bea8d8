"""The data of a workbook's native charts: each series' kind and values, its cell references
resolved against the workbook (openpyxl writes references without cached values)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from checks import xlsx_book

_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


def native_series(path: Path) -> list[dict[str, Any]]:
    """[{"kind": "bar"|"line"|..., "values": [float], "categories": [str]}] of every series."""
    with zipfile.ZipFile(path) as zf:
        xml = [zf.read(n) for n in zf.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
    if not xml:
        return []
    wb, values = xlsx_book(path)
    out = []
    for body in xml:
        root = ElementTree.fromstring(body)
        for plot in root.iter():
            tag = plot.tag.removeprefix(_C)
            if not tag.endswith("Chart") or tag in ("chart", "userShapes"):
                continue
            kind = tag.removesuffix("Chart").removesuffix("3D").lower()
            for ser in plot.findall(f"{_C}ser"):
                out.append(
                    {
                        "kind": kind,
                        "values": [_float(v) for v in _data(ser, ("val", "yVal"), wb, values)],
                        "categories": [str(v) for v in _data(ser, ("cat", "xVal"), wb, values)],
                    }
                )
    return out


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _data(
    ser: Any, names: tuple[str, ...], wb: Any, values: dict[tuple[str, str], Any]
) -> list[Any]:
    for name in names:
        node = ser.find(f"{_C}{name}")
        if node is None:
            continue
        ref = node.find(f".//{_C}f")
        if ref is not None and ref.text:
            return _resolve(ref.text, wb, values)
        cached = [p.findtext(f"{_C}v") for p in node.iter(f"{_C}pt")]
        if cached:
            return cached
    return []


def _resolve(ref: str, wb: Any, values: dict[tuple[str, str], Any]) -> list[Any]:
    """The cells of ``'Sheet 1'!$B$2:$B$13`` in row-major order, formulas evaluated."""
    m = re.fullmatch(r"(?:'?(.+?)'?!)?\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?", ref.strip())
    if m is None:
        return []
    sheet = m.group(1) or wb.worksheets[0].title
    if sheet not in wb.sheetnames:
        return []
    ws = wb[sheet]
    end = f"{m.group(4) or m.group(2)}{m.group(5) or m.group(3)}"
    out = []
    for row in ws[f"{m.group(2)}{m.group(3)}:{end}"]:
        for c in row if isinstance(row, tuple) else (row,):
            v = c.value
            if isinstance(v, str) and v.startswith("="):
                v = values.get((sheet, c.coordinate))
            out.append(v)
    return out
