"""The gemini engine: the real google-genai SDK against tests/vendor_servers/gemini.py (code
execution run for real in our Docker sandbox, results inline), and its structured-output path."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from promptkiln.errors import SandboxTimeout
from promptkiln.making.make import make

vf = sys.modules["promptkiln_tests_vendor_fixtures"]
Turn = vf.Turn

CHART = """
import csv
from PIL import Image, ImageDraw
rows = list(csv.reader(open("inputs/input_1.csv")))[1:]
img = Image.new("RGB", (120, 80), "white")
draw = ImageDraw.Draw(img)
for i, (_, v) in enumerate(rows):
    draw.rectangle([10 + 40 * i, 80 - int(float(v) * 10), 40 + 40 * i, 80], fill="navy")
img.save("chart.png")
print(f"plotted {len(rows)} bars")
"""


@pytest.mark.docker
def test_an_inline_image_becomes_a_png_and_the_text_output_is_kept(
    fake_gemini: Any, tmp_path: Path
) -> None:
    data = tmp_path / "sales.csv"
    data.write_text("q,revenue\nQ1,2.5\nQ2,3.5\n")
    fake_gemini.enqueue(Turn(CHART, text="Here is the chart."))
    settings = vf.engine_settings("gemini", fake_gemini)
    result = make(
        "Chart the sales", formats=["png"], inputs=[data], out=tmp_path / "out", settings=settings
    )
    (png,) = result.files
    assert png.name == "image-1.png" and png.media_type == "image/png"
    from PIL import Image

    assert Image.open(io.BytesIO((tmp_path / "out" / "image-1.png").read_bytes())).size == (120, 80)
    run = result.attempts[0].run
    assert run.result.stdout.text == "plotted 2 bars\n"
    assert (
        run.sandbox.extra["engine"] == "gemini"
        and '"input_tokens": 90' in run.sandbox.extra["usage"]
    )
    sent = fake_gemini.requests[0]["body"]
    assert sent["tools"] == [{"codeExecution": {}}]
    assert any("inlineData" in p for p in sent["contents"][0]["parts"])


@pytest.mark.docker
def test_gemini_time_limit_is_a_timeout(fake_gemini: Any, tmp_path: Path) -> None:
    """Gemini's code execution has a fixed 30 s limit (ai.google.dev/gemini-api/docs/
    code-execution, "Limitations"): the message names it and does not offer --timeout."""
    fake_gemini.time_limit = 2.0
    fake_gemini.enqueue(Turn("import time\ntime.sleep(30)\n"))
    settings = vf.load_settings(
        engine="gemini",
        attempts=1,
        engines={
            "gemini": {"base_url": fake_gemini.base_url, "api_key": fake_gemini.api_key},
            "gemini_time_limit": 2.0,
        },
    )
    with pytest.raises(SandboxTimeout) as info:
        make("a slow chart", formats=["png"], out=tmp_path / "out", settings=settings)
    assert info.value.exit_code == 124 and info.value.seconds == 2.0
    assert "Gemini's fixed 2 s limit" in str(info.value) and "--timeout" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_structured_output_is_rendered_locally_as_csv_xlsx_and_json(
    fake_gemini: Any, tmp_path: Path
) -> None:
    table = {
        "name": "revenue",
        "columns": ["quarter", "revenue"],
        "rows": [["Q1", "2.1"], ["Q2", "2.8"]],
    }
    fake_gemini.enqueue(Turn(json=table))
    settings = vf.engine_settings("gemini", fake_gemini)
    result = make(
        "Quarterly revenue table",
        formats=["csv", "xlsx", "json"],
        out=tmp_path / "out",
        settings=settings,
    )
    assert sorted(a.name for a in result.files) == ["revenue.csv", "revenue.json", "revenue.xlsx"]
    assert (tmp_path / "out" / "revenue.csv").read_text() == "quarter,revenue\nQ1,2.1\nQ2,2.8\n"
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "out" / "revenue.xlsx").active
    assert [c.value for c in ws[2]] == ["Q1", 2.1]
    config = fake_gemini.requests[0]["body"]["generationConfig"]
    assert config["responseMimeType"] == "application/json" and "responseSchema" in config


def test_a_hostile_table_name_is_sanitised_or_rejected(fake_gemini: Any, tmp_path: Path) -> None:
    table = {"name": "../../etc/cron.d/evil", "columns": ["a"], "rows": [["1"]]}
    fake_gemini.enqueue(Turn(json=table))
    settings = vf.engine_settings("gemini", fake_gemini, attempts=1)
    with pytest.raises(Exception) as info:
        make("a table", formats=["csv"], out=tmp_path / "out", settings=settings)
    assert "rejected" in str(info.value) or "no deliverable" in str(info.value)
    assert not (tmp_path / "etc").exists() and not (tmp_path / "out").exists()
