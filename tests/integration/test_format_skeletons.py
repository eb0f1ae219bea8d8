"""Every format note's code runs in the real sandbox and makes what it claims to teach, and
every format the CLI accepts can be written in the image (a note can never teach a broken API,
and no accepted format fails on a missing library).

The notes use neutral names for the request's words and data (``title``, ``labels``,
``values``, ``header``, ``rows``, ...): the tests bind them, as a script would, and run the
note's code after them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptkiln.checks.facts import file_facts
from promptkiln.checks.validate import validate_all
from promptkiln.config import load_settings
from promptkiln.llm.prompts import FORMATS, GENERIC_FORMATS, load_template
from promptkiln.making.pipeline import run_in_sandbox

pytestmark = [pytest.mark.docker]

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

#: What a script puts in the notes' neutral names (the request's words and data).
BINDINGS = """\
title, subtitle, text, point, notes = "Units per site", "For the board", "Some words.", "A point", "Say it"
section_title, slide_title, chart_title, table_title = "Overview", "Highlights", "Units chart", "The rows"
x_label, y_label, name, series_name = "site", "units", "units", "units"
sheet_name, other_sheet_name = "Sites", "Notes"
labels, values = ["Alpha", "Beta", "Gamma"], [3.0, 5.0, 4.0]
xs, ys, points = labels, values, ["First of two", "Second of two"]
header, rows = ["site", "units"], [["Alpha", 3.0], ["Beta", 5.0], ["Gamma", 4.0]]
"""


def skeleton(fmt: str) -> str | None:
    """The note's code, after the bindings a script would make."""
    blocks = re.findall(r"```python\n(.*?)```", load_template(fmt), re.S)
    assert len(blocks) <= 1, f"{fmt}.md has more than one code block"
    return BINDINGS + blocks[0] if blocks else None


#: What each note's code must visibly make (read back with the facts reader).
EXPECT = {
    "pdf": lambda f: f["images"] >= 1 and "Gamma" in f["text"] and "Units per site" in f["text"],
    "xlsx": lambda f: (
        f["charts"] == 1
        and [s["name"] for s in f["sheets"]] == ["Sites", "Notes"]
        and "=SUM(B2:B4)" in f["sheets"][0]["formulas"]
    ),
    "pptx": lambda f: (
        f["slides"] == 4 and f["notes"] >= 1 and f["charts"] == 1 and f["tables"] == 1
    ),
    "docx": lambda f: f["tables"] == 1 and f["images"] == 1 and f["bullets"] == 1,
    "png": lambda f: (f["width"], f["height"]) == (800, 500),
    "svg": lambda f: f["has_text"] and "Units per site" in f["text"],
}
WITH_SKELETON = sorted(p.stem for p in TEMPLATES.glob("*.md") if "```python\n" in p.read_text())


def test_the_formats_that_matter_have_code() -> None:
    assert set(WITH_SKELETON) >= {"pdf", "xlsx", "pptx", "docx", "png", "svg"}


@pytest.mark.parametrize("fmt", WITH_SKELETON)
def test_note_code_runs_and_makes_its_structures(fmt: str, tmp_path: Path) -> None:
    code = skeleton(fmt)
    assert code is not None
    run = run_in_sandbox(code.encode(), [], tmp_path / "out", load_settings(limits={"timeout": 60}))
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    made = [a for a in run.artifacts if a.name.endswith(f".{fmt}")]
    assert len(run.artifacts) == 1 and len(made) == 1, [a.name for a in run.artifacts]
    assert validate_all(run.artifacts, [fmt]) == []
    if fmt in EXPECT:
        facts = file_facts(Path(made[0].path), fmt)
        assert EXPECT[fmt](facts), facts


@pytest.mark.parametrize("fmt", WITH_SKELETON)
def test_note_code_copied_without_the_requests_words_fails_loudly(fmt: str) -> None:
    """A model that copies a note without putting in the request's words and data gets a
    NameError (a repair), never a file of sample data."""
    code = skeleton(fmt)
    assert code is not None
    body = code.removeprefix(BINDINGS)
    names = set(re.findall(r"^(\w+)(?:, \w+)* = ", BINDINGS, re.M))
    bound = {n for line in BINDINGS.splitlines() for n in line.split(" = ")[0].split(", ")}
    used = {n for n in bound if re.search(rf"\b{n}\b", body)}
    assert used, fmt  # the note uses the neutral names
    assert names <= bound
    assert not re.search(r"^(" + "|".join(sorted(used)) + r") = ", body, re.M), fmt


WRITE_ALL = r"""
import csv, json, xml.etree.ElementTree as ET
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from PIL import Image
fig, ax = plt.subplots()
ax.plot([1, 2], [2, 1])
for ext in ("eps", "ps"):
    fig.savefig(f"out.{ext}")
for ext in ("gif", "webp", "bmp", "tiff", "ico", "jpg", "png"):
    Image.new("RGB", (32, 32), (200, 30, 30)).save(f"out.{ext}")
fig.savefig("out.svg")
fig.savefig("out.pdf")
with open("out.csv", "w", newline="") as f:
    csv.writer(f).writerows([["a", "b"], [1, 2]])
with open("out.tsv", "w", newline="") as f:
    csv.writer(f, delimiter="\t").writerows([["a", "b"], [1, 2]])
json.dump({"a": 1}, open("out.json", "w"))
json.dump({"type": "FeatureCollection", "features": []}, open("out.geojson", "w"))
ET.ElementTree(ET.Element("root")).write("out.xml")
texts = {"md": "# Title\n", "txt": "hello\n", "html": "<!doctype html><p>hi</p>\n",
         "yaml": "a: 1\n", "tex": "\\documentclass{article}\n", "rtf": "{\\rtf1 hello}\n",
         "ics": "BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n"}
for ext, text in texts.items():
    open(f"out.{ext}", "w").write(text)
pd.DataFrame({"a": [1, 2]}).to_parquet("out.parquet")
from openpyxl import Workbook
wb = Workbook(); wb.active.append(["a", 1]); wb.save("out.xlsx")
import docx
d = docx.Document(); d.add_paragraph("hi"); d.save("out.docx")
from pptx import Presentation
p = Presentation(); p.slides.add_slide(p.slide_layouts[6]); p.save("out.pptx")
"""


def test_every_accepted_format_can_be_written_in_the_image(tmp_path: Path) -> None:
    accepted = set(FORMATS) | set(GENERIC_FORMATS)
    run = run_in_sandbox(
        WRITE_ALL.encode(),
        [],
        tmp_path / "out",
        load_settings(limits={"timeout": 60}),
        allow_extensions=sorted(accepted),
    )
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    made = {Path(a.name).suffix.lstrip(".") for a in run.artifacts}
    assert made == accepted, (accepted - made, [r.reason for r in run.rejections])
    assert validate_all(run.artifacts, sorted(accepted)) == []
