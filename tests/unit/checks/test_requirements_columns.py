"""A data file the request asks to keep the input's columns keeps them: real CSV, JSON and
XLSX files read by the facts reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from promptkiln.checks.facts import file_facts
from promptkiln.checks.requirements import check, parse

SALES = {"sales.csv": b"date,region,product,units,revenue\n2024-01-01,East,A,10,490.0\n"}
ROWS = [{"date": "2024-01-01", "region": "East", "product": "A", "units": 10, "revenue": 490.0}]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(rows))
    elif path.suffix == ".csv":
        head = list(rows[0])
        path.write_text(",".join(head) + "\n" + ",".join(str(r[h]) for r in rows for h in head))
    else:
        wb = Workbook()
        ws = wb.active
        ws.append(list(rows[0]))
        for r in rows:
            ws.append(list(r.values()))
        wb.save(path)
    return path


@pytest.mark.parametrize(
    ("prompt", "fmt"),
    [
        ("Convert sales.csv to JSON records", "json"),
        ("the rows of sales.csv as a CSV with the same columns, sorted by date", "csv"),
        ("an Excel copy of the CSV keeping all columns", "xlsx"),
    ],
)
def test_every_input_column_is_kept(tmp_path: Path, prompt: str, fmt: str) -> None:
    [req] = [r for r in parse(prompt, [fmt], SALES) if r.kind == "columns"]
    assert req.params["columns"] == ["date", "region", "product", "units", "revenue"]
    whole = _write(tmp_path / f"whole.{fmt}", ROWS)
    assert check([req], {whole.name: file_facts(whole, fmt)})[0].met
    cut = _write(
        tmp_path / f"cut.{fmt}", [{k: v for k, v in r.items() if k != "revenue"} for r in ROWS]
    )
    [outcome] = check([req], {cut.name: file_facts(cut, fmt)})
    assert not outcome.met and outcome.detail == f"cut.{fmt} has no column revenue"


def test_nothing_is_asked_without_the_words_or_a_single_csv_input() -> None:
    assert [
        r for r in parse("total revenue per region as JSON", ["json"], SALES) if r.kind == "columns"
    ] == []
    assert [r for r in parse("convert it to JSON", ["json"], {}) if r.kind == "columns"] == []
    assert [
        r for r in parse("convert sales.csv to Parquet", ["parquet"], SALES) if r.kind == "columns"
    ] == []
