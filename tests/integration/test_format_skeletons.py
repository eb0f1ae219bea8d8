"""Every format note's skeleton runs in the real sandbox and makes what it claims to teach, and
every format the CLI accepts can be written in the image (a note can never teach a broken API,
and no accepted format fails on a missing library)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from promptkiln.checks.facts import file_facts
from promptkiln.checks.validate import validate_all
from promptkiln.config import load_settings
from promptkiln.llm.prompts import FORMATS, GENERIC_FORMATS, InputSummary, load_template
from promptkiln.llm.skeleton_data import (
    INVOICE_DATA,
    SAMPLE_DATA,
    TOTALS,
    data_blocks,
    data_lines,
    headline,
    pages_lines,
    row_formula_lines,
    slide_per_row_lines,
    slides_lines,
    statistics_line,
)
from promptkiln.making.pipeline import run_in_sandbox
from promptkiln.sandbox.base import InputFile

pytestmark = [pytest.mark.docker]

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def skeleton(
    fmt: str,
    data: str = SAMPLE_DATA,
    row_formula: str = "",
    pages: str = "",
    totals: str | None = None,
    per_row: str = "",
    with_data: bool = True,
    slides: str = "",
) -> str | None:
    """The note's skeleton as the model sees it: ``$data`` filled in as render_system does."""
    note = data_blocks(load_template(fmt), with_data)
    blocks = re.findall(r"```python\n(.*?)```", note, re.S)
    assert len(blocks) <= 1, f"{fmt}.md has more than one skeleton"
    if totals is None:
        totals = TOTALS if data != SAMPLE_DATA else ""
    return (
        string.Template(blocks[0]).safe_substitute(
            data=data,
            totals=totals,
            rowformula=row_formula,
            pages=pages,
            headline=headline(totals, data, with_data=with_data),
            perrow=per_row,
            slides=slides,
        )
        if blocks
        else None
    )


#: What each skeleton must visibly make (read back with the facts reader).
EXPECT = {
    "pdf": lambda f: f["pages"] == 1 and f["images"] >= 1 and "Region" in f["text"],
    "xlsx": lambda f: (
        f["charts"] == 1
        and [s["name"] for s in f["sheets"]] == ["Data", "Summary"]
        and "=SUM(B2:B4)" in f["sheets"][0]["formulas"]
        and f["sheets"][1]["formulas"] == ["=SUM(Data!B2:B4)", "=AVERAGE(Data!B2:B4)"]
    ),
    "pptx": lambda f: (
        f["slides"] == 3 and f["notes"] == 3 and f["charts"] == 1 and f["tables"] == 1
    ),
    "docx": lambda f: f["tables"] == 1 and f["images"] == 1 and f["bullets"] == 2,
    "png": lambda f: (f["width"], f["height"]) == (800, 500),
    "svg": lambda f: f["has_text"] and "Title" in f["text"],
}
WITH_SKELETON = sorted(p.stem for p in TEMPLATES.glob("*.md") if "```python\n" in p.read_text())


def test_the_formats_that_matter_have_skeletons() -> None:
    assert set(WITH_SKELETON) >= {"pdf", "xlsx", "pptx", "docx", "png", "svg", "parquet"}


@pytest.mark.parametrize("fmt", WITH_SKELETON)
def test_skeleton_runs_and_makes_its_structures(fmt: str, tmp_path: Path) -> None:
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
def test_skeleton_runs_with_an_invoices_lines(fmt: str, tmp_path: Path) -> None:
    code = skeleton(fmt, INVOICE_DATA)
    assert code is not None
    run = run_in_sandbox(code.encode(), [], tmp_path / "out", load_settings(limits={"timeout": 60}))
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert validate_all(run.artifacts, [fmt]) == []
    if fmt in ("pdf", "docx", "pptx"):
        text = str(file_facts(Path(run.artifacts[0].path), fmt))
        assert "20.00" in text and "25.50" in text, text[:800]  # the line totals
        assert "Grand total: 45.50" in text, text[:800]


@pytest.mark.parametrize("fmt", ["pdf", "docx", "pptx"])
def test_a_document_without_data_has_no_sample_table_or_chart(fmt: str, tmp_path: Path) -> None:
    code = skeleton(fmt, with_data=False)
    assert code is not None and "df =" not in code and "df[" not in code and "#[" not in code
    run = run_in_sandbox(code.encode(), [], tmp_path / "out", load_settings(limits={"timeout": 60}))
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert validate_all(run.artifacts, [fmt]) == []
    facts = file_facts(Path(run.artifacts[0].path), fmt)
    assert not facts.get("tables") and not facts.get("images") and not facts.get("charts"), facts
    assert "Paragraph text." in facts["text"] and "North" not in facts["text"]


def test_a_deck_without_data_gets_the_slides_asked_for(tmp_path: Path) -> None:
    prompt = "a 4-slide deck: a title slide, then Plans, Risks and Next Steps"
    code = skeleton("pptx", with_data=False, slides=slides_lines(prompt, with_data=False))
    assert code is not None
    run = run_in_sandbox(code.encode(), [], tmp_path / "out", load_settings(limits={"timeout": 60}))
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    facts = file_facts(Path(run.artifacts[0].path), "pptx")
    assert facts["slides"] == 4 and facts["notes"] == 4 and "Title of slide 4" in facts["text"]


#: An input like a user's: the skeletons read it as ``df`` (``$data``) when a request has one.
SALES_CSV = b"region,month,revenue,units\nNorth,2024-01,1200.5,10\nSouth,2024-01,950,7\nEast,2024-02,1430.25,12\n"


@pytest.mark.parametrize("fmt", WITH_SKELETON)
def test_skeleton_runs_on_a_users_csv_input(fmt: str, tmp_path: Path) -> None:
    csv = InputFile("sales.csv", SALES_CSV)
    code = skeleton(
        fmt, data_lines([InputSummary.from_bytes(csv.name, csv.data)], "revenue per region")
    )
    assert code is not None and 'pd.read_csv("inputs/sales.csv")' in code
    run = run_in_sandbox(
        code.encode(), [csv], tmp_path / "out", load_settings(limits={"timeout": 60})
    )
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert validate_all(run.artifacts, [fmt]) == []
    made = [a for a in run.artifacts if a.name.endswith(f".{fmt}")]
    if fmt in ("pdf", "docx", "pptx"):  # the table holds the input's rows, not sample data
        text = str(file_facts(Path(made[0].path), fmt))
        assert "East" in text and "Region" not in text, text[:500]


GRADES_CSV = b"student,test1,test2,test3\nAna,80,85,80\nBen,70,75,72\nCy,90,60,75\n"


@pytest.mark.parametrize(
    ("prompt", "csv", "formulas"),
    [
        ("an AVERAGE formula for each student", GRADES_CSV,
         ["=AVERAGE(B2:D2)", "=AVERAGE(B3:D3)", "=AVERAGE(B4:D4)"]),
        ("each region's share of the total revenue", SALES_CSV, ["=C2/C$5", "=C3/C$5", "=C4/C$5"]),
        ("each region's share of the total", None, ["=B2/B$5", "=B3/B$5", "=B4/B$5"]),
    ],
)  # fmt: skip
def test_the_xlsx_skeletons_formula_column_runs(
    prompt: str, csv: bytes | None, formulas: list[str], tmp_path: Path
) -> None:
    inputs = [InputFile("t.csv", csv)] if csv else []
    summaries = [InputSummary.from_bytes(i.name, i.data) for i in inputs]
    code = skeleton("xlsx", data_lines(summaries, prompt), row_formula_lines(summaries, prompt))
    assert code is not None
    run = run_in_sandbox(
        code.encode(), inputs, tmp_path / "out", load_settings(limits={"timeout": 60})
    )
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    assert validate_all(run.artifacts, ["xlsx"]) == []
    data = file_facts(Path(run.artifacts[0].path), "xlsx")["sheets"][0]
    assert all(f in data["formulas"] for f in formulas), data["formulas"]


@pytest.mark.parametrize("n", [2, 5])
def test_the_pdf_skeleton_makes_the_pages_asked_for(n: int, tmp_path: Path) -> None:
    code = skeleton("pdf", pages=pages_lines(f"a {n}-page PDF report"))
    assert code is not None
    run = run_in_sandbox(code.encode(), [], tmp_path / "out", load_settings(limits={"timeout": 60}))
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    facts = file_facts(Path(run.artifacts[0].path), "pdf")
    assert facts["pages"] == n and f"Heading of page {n}" in facts["text"]


SCORES_CSV = b"student,score\nAna,71.5\nBen,64\nCy,88.25\nDee,90\n"


@pytest.mark.parametrize("fmt", ["pdf", "docx", "pptx"])
def test_statistics_asked_of_a_column_make_a_table_of_them(fmt: str, tmp_path: Path) -> None:
    prompt = "a table of the count, mean, min and max of the score column"
    csv = InputFile("scores.csv", SCORES_CSV)
    summaries = [InputSummary.from_bytes(csv.name, csv.data)]
    stats = statistics_line(summaries, prompt)
    code = skeleton(fmt, data_lines(summaries, prompt), totals=stats)
    assert code is not None and '.agg(["count", "mean", "min", "max"])' in code
    run = run_in_sandbox(
        code.encode(), [csv], tmp_path / "out", load_settings(limits={"timeout": 60})
    )
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    text = str(file_facts(Path(run.artifacts[0].path), fmt))
    for shown in ("count 4.00", "mean 78.44", "min 64.00", "max 90.00", "78.44"):
        assert shown in text, (shown, text[:800])


QUARTERS_CSV = (
    b"region,q1,q2,q3,q4\nNorth,311000,366000,318000,311000\nCentral,126000,355000,101000,384000\n"
)


def test_the_pptx_skeleton_makes_a_slide_per_row_when_asked(tmp_path: Path) -> None:
    prompt = "a deck with one slide per region, listing its q1-q4 revenue"
    csv = InputFile("q.csv", QUARTERS_CSV)
    summaries = [InputSummary.from_bytes(csv.name, csv.data)]
    code = skeleton("pptx", data_lines(summaries, prompt), per_row=slide_per_row_lines(prompt))
    assert code is not None
    run = run_in_sandbox(
        code.encode(), [csv], tmp_path / "out", load_settings(limits={"timeout": 60})
    )
    assert run.result.exit_code == 0, run.result.stderr.text[-2000:]
    facts = file_facts(Path(run.artifacts[0].path), "pptx")
    assert facts["slides"] == 5 and facts["notes"] == 5, facts
    assert "North" in facts["text"] and "q4: 384000" in facts["text"], facts["text"][:800]


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
