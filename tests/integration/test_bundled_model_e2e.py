"""End to end on the embedded default: the bundled local model writes the script, the real Docker
sandbox runs it, the files come out and open. No model is configured, exactly as a new user runs.

Slow (the model generates ~10 tokens/s on 2 cores); CI runs it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.making.make import make

# The first use may download and assemble the 1.1 GB model (minutes) before generating.
pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings with no model configured, sharing one home so both tests reuse one server."""
    from promptkiln.llm import local

    home = tmp_path_factory.mktemp("bundled-home")
    settings = load_settings(home=home, model="", limits={"timeout": 120})
    assert settings.model == ""
    try:
        yield settings
    finally:
        local.stop_server(home)


def test_png_chart_from_the_bundled_model(bundled: Settings, tmp_path: Path) -> None:
    from PIL import Image

    lines: list[str] = []
    result = make(
        "Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M",
        formats=["png"],
        out=tmp_path / "out",
        settings=bundled,
        progress=lines.append,
    )
    pngs = [f for f in result.files if f.name.endswith(".png")]
    assert pngs, result.files
    with Image.open(pngs[0].path) as img:
        img.verify()
    assert result.model.startswith("bundled")
    assert any("succeeded" in line for line in lines)
    print(
        "timings:",
        {k: round(v, 1) for k, v in result.timings.items()},
        "attempts:",
        result.attempt_count,
    )


def test_xlsx_with_a_sum_formula_from_the_bundled_model(bundled: Settings, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    result = make(
        "An Excel workbook with quarterly revenue (Q1=2.1, Q2=2.8, Q3=3.2, Q4=3.9) in columns A and B "
        "and a Total row whose value is an Excel =SUM formula over the revenue cells",
        formats=["xlsx"],
        out=tmp_path / "out",
        settings=bundled,
    )
    xlsx = [f for f in result.files if f.name.endswith(".xlsx")]
    assert xlsx, result.files
    assert zipfile.is_zipfile(xlsx[0].path)
    wb = load_workbook(xlsx[0].path)
    formulas = [
        str(cell.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith("=")
    ]
    assert any("SUM(" in f.upper() for f in formulas), (formulas, result.script)
    print(
        "timings:",
        {k: round(v, 1) for k, v in result.timings.items()},
        "attempts:",
        result.attempt_count,
    )
