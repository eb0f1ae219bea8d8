"""validate(): real files made with the real libraries pass; broken and hostile ones become
problems, never exceptions."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptkiln.checks.file_checks import MAX_IMAGE_PIXELS, check_file
from promptkiln.checks.validate import missing_formats, validate, validate_all

# -- good files, made with the real libraries ---------------------------------------------------


def make_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    SimpleDocTemplate(str(path), pagesize=A4).build(
        [Paragraph("Quarterly report", getSampleStyleSheet()["Title"])]
    )


def make_xlsx(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["region", "revenue"])
    ws.append(["north", 10])
    ws["C2"] = "=SUM(B2:B2)"
    wb.save(path)


def make_docx(path: Path) -> None:
    import docx

    doc = docx.Document()
    doc.add_heading("Minutes", level=1)
    doc.add_paragraph("Everyone agreed.")
    doc.save(str(path))


def make_pptx(path: Path) -> None:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Sales"
    data = CategoryChartData()
    data.categories = ["Q1", "Q2"]
    data.add_series("Sales", (1.0, 2.0))
    slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1.5), Inches(6), Inches(4), data
    )
    prs.save(str(path))


def make_png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 32), "teal").save(path, format="PNG")


def make_jpg(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 32), "teal").save(path, format="JPEG")


def make_svg(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 2))
    plt.plot([1, 2, 3])
    fig.savefig(path, format="svg")  # matplotlib writes a DOCTYPE: it must pass
    plt.close(fig)


def make_csv(path: Path) -> None:
    path.write_text("region,revenue\nnorth,10\n", encoding="utf-8")


def make_json(path: Path) -> None:
    path.write_text(json.dumps({"rows": [1, 2]}, indent=2), encoding="utf-8")


def make_md(path: Path) -> None:
    path.write_text("# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", encoding="utf-8")


def make_html(path: Path) -> None:
    path.write_text("<!DOCTYPE html><html><body><p>hi</p></body></html>", encoding="utf-8")


GOOD = {
    "pdf": make_pdf,
    "xlsx": make_xlsx,
    "docx": make_docx,
    "pptx": make_pptx,
    "png": make_png,
    "jpg": make_jpg,
    "svg": make_svg,
    "csv": make_csv,
    "json": make_json,
    "md": make_md,
    "html": make_html,
}


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_good_files_pass(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    GOOD[fmt](path)
    assert validate(path, "application/octet-stream", fmt) == []
    assert validate(path, "application/octet-stream", None) == []  # by extension


def test_format_from_media_type_when_no_extension(tmp_path: Path) -> None:
    path = tmp_path / "noext"
    make_pdf(path)
    assert validate(path, "application/pdf", None) == []


# -- broken and wrong files ---------------------------------------------------------------------


def _one_problem(path: Path, fmt: str | None, *needles: str) -> str:
    problems = validate(path, "application/octet-stream", fmt)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert not problem.startswith(path.name)  # the caller adds the name it shows
    assert "\n" not in problem
    for needle in needles:
        assert needle in problem, problem
    return problem


def test_truncated_pdf(tmp_path: Path) -> None:
    good = tmp_path / "good.pdf"
    make_pdf(good)
    bad = tmp_path / "cut.pdf"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _one_problem(bad, "pdf", "truncated")


def test_png_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    make_png(path)
    _one_problem(path, "pdf", "not a PDF")


def test_pdf_with_broken_body(tmp_path: Path) -> None:
    path = tmp_path / "junk.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100 + b"\n%%EOF\n")
    _one_problem(path, "pdf")


def test_jpeg_named_png(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    make_jpg(path)
    _one_problem(path, "png", "JPEG", "not PNG")


def test_truncated_png(tmp_path: Path) -> None:
    from PIL import Image

    good = tmp_path / "good.png"
    Image.effect_noise((256, 256), 64).save(good)
    bad = tmp_path / "cut.png"
    bad.write_bytes(good.read_bytes()[:300])
    _one_problem(bad, "png")


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [100_000, int((MAX_IMAGE_PIXELS * 1.2) ** 0.5)])
def test_png_decompression_bomb(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(side, side))
    _one_problem(path, "png", "too large")


def test_zip_bomb_docx(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\x00" * (64 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    _one_problem(path, "docx", "zip bomb")


def test_corrupt_docx(tmp_path: Path) -> None:
    good = tmp_path / "good.docx"
    make_docx(good)
    bad = tmp_path / "bad.docx"
    bad.write_bytes(good.read_bytes()[:-200])
    _one_problem(bad, "docx")


def test_plain_zip_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    _one_problem(path, "xlsx", "not an Office Open XML")


def test_empty_workbook(tmp_path: Path) -> None:
    from openpyxl import Workbook

    path = tmp_path / "empty.xlsx"
    Workbook().save(path)
    _one_problem(path, "xlsx", "empty")


def test_presentation_without_slides(tmp_path: Path) -> None:
    from pptx import Presentation

    path = tmp_path / "deck.pptx"
    Presentation().save(str(path))
    _one_problem(path, "pptx", "no slides")


def test_docx_named_pptx(tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    make_docx(path)
    _one_problem(path, "pptx")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text></svg>
"""


def test_svg_entity_bomb(tmp_path: Path) -> None:
    path = tmp_path / "lol.svg"
    path.write_bytes(BILLION_LAUGHS)
    _one_problem(path, "svg", "entit")


def test_svg_not_svg(tmp_path: Path) -> None:
    path = tmp_path / "page.svg"
    path.write_text("<html><body/></html>")
    _one_problem(path, "svg", "<html>")


def test_svg_malformed(tmp_path: Path) -> None:
    path = tmp_path / "half.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect')
    _one_problem(path, "svg", "well-formed")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\n\n  \n", "no rows"),
        (b"a,b\x00,c\n", "NUL"),
        (b"caf\xe9,1\n", "UTF-8"),
    ],
)
def test_bad_csv(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    _one_problem(path, "csv", needle)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b'{"a": [1, 2', "not valid JSON"), (b'{"a": NaN}', "NaN"), (b"[" * 100_000, "")],
)
def test_bad_json(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(content)
    _one_problem(path, "json", needle)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.pdf"
    empty.write_bytes(b"")
    _one_problem(empty, "pdf", "empty")
    _one_problem(tmp_path / "nope.pdf", "pdf", "not a regular file")
    (tmp_path / "dir.pdf").mkdir()
    _one_problem(tmp_path / "dir.pdf", "pdf", "not a regular file")


def test_timeout_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    make_png(path)
    problems = validate(path, "image/png", "png", timeout_s=0.001)
    assert len(problems) == 1 and "longer than" in problems[0]


def test_unknown_format_only_needs_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.stl"
    path.write_bytes(b"solid x\nendsolid x\n")
    assert validate(path, "text/plain", None) == []


FORMATS = ["pdf", "xlsx", "docx", "pptx", "png", "jpg", "svg", "csv", "json", "md", "html", ""]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=1, max_size=2048), fmt=st.sampled_from(FORMATS))
def test_check_never_raises(tmp_path: Path, data: bytes, fmt: str) -> None:
    path = tmp_path / "fuzz"
    path.write_bytes(data)
    problems = check_file(path, fmt)
    assert isinstance(problems, list)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=1, max_value=4000), fmt=st.sampled_from(["docx", "pdf", "xlsx"]))
def test_truncations_never_raise(tmp_path: Path, cut: int, fmt: str) -> None:
    path = tmp_path / f"good.{fmt}"
    if not path.exists():
        GOOD[fmt](path)
    data = path.read_bytes()
    bad = tmp_path / f"cut.{fmt}"
    bad.write_bytes(data[: max(1, len(data) - cut)])
    problems = check_file(bad, fmt)
    assert all(isinstance(p, str) for p in problems)


# -- missing_formats / validate_all -------------------------------------------------------------


@dataclass(frozen=True)
class FakeArtifact:
    name: str
    path: str
    size: int = 0
    sha256: str = ""
    media_type: str = "application/octet-stream"


def test_missing_formats() -> None:
    arts = [FakeArtifact("out/report.PDF", "/x"), FakeArtifact("photo.jpeg", "/y")]
    assert missing_formats(arts, ["pdf", ".jpg", "png", "PNG"]) == ["png"]  # type: ignore[arg-type]
    assert missing_formats([], ["csv"]) == ["csv"]
    assert missing_formats(arts, []) == []  # type: ignore[arg-type]


def test_validate_all(tmp_path: Path) -> None:
    good = tmp_path / "chart.png"
    make_png(good)
    bad = tmp_path / "data.json"
    bad.write_text("{")
    arts = [FakeArtifact(good.name, str(good)), FakeArtifact(bad.name, str(bad))]
    problems = validate_all(arts, ["png", "json", "xlsx"])  # type: ignore[arg-type]
    assert len(problems) == 2
    assert problems[0].startswith("data.json:")
    assert problems[1] == "no .xlsx file was written"


def test_problem_lines_are_capped(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 200 + ".json")
    path.write_bytes(b'{"' + b"a" * 5000)
    (problem,) = validate(path, "application/json", "json")
    assert len(problem) <= 300


def test_checker_output_is_json_list(tmp_path: Path) -> None:
    # the child's protocol, end to end: a list of strings, even for a file with many issues
    path = tmp_path / "a.csv"
    path.write_bytes(io.BytesIO(b"\xff\xfe").getvalue())
    assert isinstance(validate(path, "text/csv", "csv"), list)
