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
    settings = load_settings(home=home, model="", plan=True, limits={"timeout": 120})
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


def test_a_plan_from_the_bundled_model(bundled: Settings) -> None:
    """The bundled llama.cpp server decodes the plan under its JSON schema (a grammar): the
    1.5B model answers a Plan that validates, names real columns of the profiled input, and
    the script request extends that conversation."""
    from promptkiln.llm.plan import ASK_SCRIPT
    from promptkiln.making.pipeline import make_generator
    from promptkiln.making.plan_step import prepare
    from promptkiln.sandbox.base import InputFile

    rows = [f"{c},2024-03-0{d},{t + d}" for c, t in (("Oslo", 2), ("Rome", 14)) for d in (1, 2, 3)]
    csv = InputFile("temps.csv", ("city,day,temp\n" + "\n".join(rows) + "\n").encode())
    gen, _ = make_generator(None, bundled, lambda _: None)
    said: list[str] = []
    prepared = prepare(
        "a bar chart of the mean temperature of each city",
        ["png"],
        [csv],
        bundled,
        gen,
        factory=None,
        progress=said.append,
    )
    assert prepared.plan is not None, said
    assert prepared.planned is not None and 1 <= prepared.planned.calls <= 2
    [file] = [f for f in prepared.plan.files if f.name.endswith(".png")]
    columns = {"city", "day", "temp", None}
    for chart in file.charts:
        assert {chart.x, chart.y, chart.series} <= columns or prepared.problems, chart
    roles = [m.role for m in prepared.messages]
    assert roles[:3] == ["system", "user", "assistant"] and roles[-1] == "user"
    assert prepared.messages[-1].content.endswith(ASK_SCRIPT)
    print("plan:", prepared.plan.model_dump_json(exclude_defaults=True), prepared.timings)
