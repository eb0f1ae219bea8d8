"""The inputs' profile, computed by the trusted script in the real sandbox over real files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from promptkiln.checks.profile import render_profile
from promptkiln.config import load_settings
from promptkiln.making.profiling import profile_inputs
from promptkiln.sandbox.base import InputFile

pytestmark = [pytest.mark.docker]

CSV = b"city,day,temp_c,note\n" + b"".join(
    f"{c},2024-03-{d:02d},{t},{'' if d % 2 else 'rain'}\n".encode()
    for c, base in (("Oslo", 2), ("Rome", 14), ("Lima", 20))
    for d, t in ((1, base), (2, base + 1.5), (3, base - 0.5))
)


def _xlsx() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Q1"
    ws.append(["product", "units", "price"])
    for row in (["Pen", 10, 1.5], ["Ink", 4, 7.25], ["Pen", 6, 1.5]):
        ws.append(row)
    other = wb.create_sheet("Staff")
    other.append(["name", "hired"])
    other.append(["Ada", "2021-05-01"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2, 3], "ok": [True, False, True]}), buf)
    return buf.getvalue()


def test_every_kind_of_input_is_profiled_in_the_sandbox(tmp_path: Path) -> None:
    records = [{"region": r, "revenue": v} for r, v in (("N", 10.5), ("S", 20), ("N", 4))]
    inputs = [
        InputFile("temps.csv", CSV),
        InputFile("books.xlsx", _xlsx()),
        InputFile("sales.json", json.dumps({"rows": records, "source": "x"}).encode()),
        InputFile("flags.parquet", _parquet()),
        InputFile("tabs.tsv", b"a\tb\n1\tx\n2\ty\n"),
        InputFile("broken.xlsx", b"PK\x03\x04 not really a workbook"),
    ]
    said: list[str] = []
    profile = profile_inputs(
        inputs, load_settings(limits={"timeout": 60}), factory=None, progress=said.append
    )
    assert profile is not None
    by_file = {i.file: i for i in profile.inputs}
    assert list(by_file) == sorted(f.name for f in inputs)

    temps = by_file["temps.csv"].tables[0]
    cols = {c.name: c for c in temps.columns}
    assert temps.rows == 9 and list(cols) == ["city", "day", "temp_c", "note"]
    assert cols["city"].dtype == "text" and cols["city"].values == {"Oslo": 3, "Rome": 3, "Lima": 3}
    assert cols["day"].dtype == "date" and (cols["day"].first, cols["day"].last) == (
        "2024-03-01",
        "2024-03-03",
    )
    assert cols["temp_c"].dtype == "number" and (cols["temp_c"].min, cols["temp_c"].max) == (
        1.5,
        21.5,
    )
    assert cols["note"].nulls == 6 and cols["note"].values == {"rain": 3}
    assert temps.head[0] == ["Oslo", "2024-03-01", "2.0", ""]

    book = by_file["books.xlsx"]
    assert [t.name for t in book.tables] == ["books.xlsx!Q1", "books.xlsx!Staff"]
    units = next(c for c in book.tables[0].columns if c.name == "units")
    assert units.dtype == "integer" and units.mean == pytest.approx(20 / 3, rel=1e-4)

    sales = by_file["sales.json"]
    assert sales.kind == "json" and sales.shape is not None
    assert sales.shape.startswith("object{rows: list[object{region: str, revenue: number}] x 3")
    assert sales.tables[0].name == "sales.json!rows" and sales.tables[0].rows == 3
    flags = {c.name: c.dtype for c in by_file["flags.parquet"].tables[0].columns}
    assert flags == {"id": "integer", "ok": "bool"}
    assert [c.dtype for c in by_file["tabs.tsv"].tables[0].columns] == ["integer", "text"]

    broken = by_file["broken.xlsx"]
    assert broken.error and not broken.tables  # one bad file, the others still profiled
    text = render_profile(profile)
    assert "- inputs/temps.csv: 9 rows, columns:" in text
    assert "inputs/broken.xlsx: could not be read" in text
    assert any("profiled the inputs" in s for s in said)
