"""The checks themselves, run in the bounded child that :func:`promptkiln.checks.validate.validate`
starts (``python -I`` on this file): re-open one file with its own library. Zip containers are
measured before they are opened, Pillow's decompression-bomb guard is tightened, XML that declares
entities is refused before parsing, and every exception becomes a one-line problem.

This module imports only the standard library at the top (the document libraries are imported
inside the checks), so the child starts fast and never imports the rest of promptkiln.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

#: Seconds one file's check may take, child start-up included.
TIMEOUT_S = 30.0


#: Address-space limit of the checking child, in bytes.
MEMORY_BYTES = 1536 * 1024 * 1024


#: Largest total uncompressed size of an OOXML (zip) file, in bytes.
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024


#: Largest number of entries in an OOXML (zip) file.
MAX_ZIP_ENTRIES = 10_000


#: Largest compression ratio of a single zip entry bigger than 1 MiB (zip bombs reach 1000+).
MAX_ZIP_RATIO = 200


#: Largest image, in pixels (Pillow refuses more; about 8000 x 8000).
MAX_IMAGE_PIXELS = 64_000_000


#: Largest text file (CSV, JSON, SVG, ...) that is parsed, in bytes.
MAX_TEXT_BYTES = 64 * 1024 * 1024


#: Longest problem line, in characters.
MAX_PROBLEM_CHARS = 300


_OOXML = {"xlsx", "docx", "pptx"}


_IMAGES = {
    "png": "PNG",
    "jpg": "JPEG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "ico": "ICO",
}


def one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_PROBLEM_CHARS else flat[: MAX_PROBLEM_CHARS - 1] + "…"


def check_file(path: Path, kind: str) -> list[str]:
    """Run the check for ``kind`` in this process. Never raises (except for KeyboardInterrupt)."""
    label = path.name
    try:
        if not path.is_file():
            return ["is not a regular file"]
        if path.stat().st_size == 0:
            return ["is empty"]
        check = _CHECKS.get(kind, _check_nonempty)
        return [one_line(p) for p in check(path, kind)]
    except MemoryError:
        return ["too big to check (out of memory); it may be a decompression bomb"]
    except RecursionError:
        return ["nested too deeply to check"]
    except Exception as exc:
        detail = str(exc).replace(str(path), label)  # no host paths in what the model sees
        return [one_line(f"is not a valid {kind or 'file'} ({type(exc).__name__}: {detail})")]


def _read_capped(path: Path) -> bytes | None:
    with path.open("rb") as fh:
        data = fh.read(MAX_TEXT_BYTES + 1)
    return None if len(data) > MAX_TEXT_BYTES else data


def _check_nonempty(path: Path, kind: str) -> list[str]:
    return []


def _check_pdf(path: Path, kind: str) -> list[str]:
    import logging

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    with path.open("rb") as fh:
        head = fh.read(1024)
        fh.seek(max(0, path.stat().st_size - 2048))
        end = fh.read()
    if b"%PDF-" not in head:
        return ["is not a PDF (no %PDF- header)"]
    if b"%%EOF" not in end:
        return ["is not a complete PDF (no %%EOF marker at the end; truncated?)"]
    from pypdf import PdfReader

    reader = PdfReader(str(path), strict=False)
    if len(reader.pages) < 1:
        return ["is a PDF with no pages"]
    _ = reader.pages[0].mediabox
    return []


def check_zip(path: Path) -> list[str]:
    if not zipfile.is_zipfile(path):
        return ["is not a zip container (OOXML files are zip archives)"]
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            return [f"has {len(infos)} zip entries (more than {MAX_ZIP_ENTRIES})"]
        total = sum(i.file_size for i in infos)
        if total > MAX_UNZIPPED_BYTES:
            return [f"unpacks to {total} bytes (more than {MAX_UNZIPPED_BYTES}): a zip bomb?"]
        for info in infos:
            ratio = info.file_size / max(1, info.compress_size)
            if info.file_size > 1024 * 1024 and ratio > MAX_ZIP_RATIO:
                return [f"zip entry {info.filename!r} expands {ratio:.0f}x: a zip bomb?"]
        if "[Content_Types].xml" not in zf.namelist():
            return ["is a zip archive but not an Office Open XML file (no [Content_Types].xml)"]
        bad = zf.testzip()
        if bad is not None:
            return [f"zip entry {bad!r} is corrupt (CRC mismatch)"]
    return []


def _check_xlsx(path: Path, kind: str) -> list[str]:
    problems = check_zip(path)
    if problems:
        return problems
    from openpyxl import load_workbook

    wb = load_workbook(str(path), read_only=True, data_only=False)
    try:
        if not wb.sheetnames:
            return ["is a workbook with no sheets"]
        for ws in wb.worksheets:
            for row in ws.iter_rows(max_row=100, values_only=True):
                if any(value is not None for value in row):
                    return []
        return ["is a workbook whose sheets are all empty"]
    finally:
        wb.close()


def _check_docx(path: Path, kind: str) -> list[str]:
    problems = check_zip(path)
    if problems:
        return problems
    import docx

    doc = docx.Document(str(path))
    has_text = any(p.text.strip() for p in doc.paragraphs)
    if not (has_text or doc.tables or doc.inline_shapes):
        return ["is a Word document with no text, tables or pictures"]
    return []


def _check_pptx(path: Path, kind: str) -> list[str]:
    problems = check_zip(path)
    if problems:
        return problems
    from pptx import Presentation

    prs = Presentation(str(path))
    if len(prs.slides) < 1:
        return ["is a presentation with no slides"]
    return []


def _check_image(path: Path, kind: str) -> list[str]:
    import warnings

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                found = img.format
                img.verify()
            with Image.open(path) as img:
                img.load()
                width, height = img.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            return [f"image is too large to open safely ({exc})"]
    expected = _IMAGES.get(kind)
    if expected and found != expected:
        return [f"is a {found} image, not {expected}"]
    if width < 1 or height < 1:
        return ["image has no pixels"]
    return []


def _text(path: Path) -> tuple[str | None, list[str]]:
    data = _read_capped(path)
    if data is None:
        return None, [f"is larger than {MAX_TEXT_BYTES} bytes; not checked"]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [f"is not UTF-8 text ({exc.reason} at byte {exc.start})"]


def _check_csv(path: Path, kind: str) -> list[str]:
    import csv
    import io

    text, problems = _text(path)
    if text is None:
        return problems
    if "\x00" in text:
        return ["contains NUL bytes; not a text table"]
    csv.field_size_limit(MAX_TEXT_BYTES)
    rows = [
        r
        for r in csv.reader(io.StringIO(text), delimiter="\t" if kind == "tsv" else ",")
        if any(cell.strip() for cell in r)
    ]
    if not rows:
        return ["has no rows"]
    return []


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _check_json(path: Path, kind: str) -> list[str]:
    text, problems = _text(path)
    if text is None:
        return problems
    try:
        json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return [f"is not valid JSON ({exc})"]
    return []


def _check_xml(path: Path, kind: str) -> list[str]:
    import re
    import xml.etree.ElementTree as ET

    data = _read_capped(path)
    if data is None:
        return [f"is larger than {MAX_TEXT_BYTES} bytes; not checked"]
    # A plain DOCTYPE (matplotlib writes one) is fine; entity declarations, or a DOCTYPE with an
    # internal subset where they would live, are refused before any parser sees them.
    if re.search(rb"<!\s*ENTITY|<!\s*DOCTYPE[^>\[]*\[", data, re.IGNORECASE):
        return ["declares XML entities; refused (entity expansion risk)"]
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return [f"is not well-formed XML ({exc})"]
    if kind == "svg" and root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        return [f"is XML but its root is <{root.tag}>, not <svg>"]
    return []


def _check_text(path: Path, kind: str) -> list[str]:
    text, problems = _text(path)
    if text is None:
        return problems
    if not text.strip():
        return ["contains only whitespace"]
    if kind == "html" and "<" not in text:
        return ["does not look like HTML (no tags)"]
    return []


_CHECKS: dict[str, Callable[[Path, str], list[str]]] = {
    "pdf": _check_pdf,
    "xlsx": _check_xlsx,
    "docx": _check_docx,
    "pptx": _check_pptx,
    **{k: _check_image for k in _IMAGES},
    "csv": _check_csv,
    "tsv": _check_csv,
    "json": _check_json,
    "geojson": _check_json,
    "svg": _check_xml,
    "xml": _check_xml,
    "md": _check_text,
    "txt": _check_text,
    "html": _check_text,
}


def _limit_self(cpu_s: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    except (ImportError, ValueError, OSError):  # not on this platform: the timeout still holds
        pass


def _worker(argv: list[str]) -> int:
    """Child entry point: ``python -I file_checks.py PATH KIND`` prints a JSON list of problems."""
    path, kind = Path(argv[0]), argv[1]
    _limit_self(int(TIMEOUT_S) + 1)
    sys.stdout.write(json.dumps(check_file(path, kind)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
