"""Media types from content, never from the file name.

:func:`detect` looks at the bytes (magic numbers, then text structure); :func:`detect_file` does
the same for an open file and, for ZIP containers, reads the central directory to tell XLSX, DOCX,
PPTX and OpenDocument files apart. The file name is used only to pick between text flavours that
content alone cannot separate (Markdown is indistinguishable from plain text).

Nothing here parses XML or decompresses anything: SVG and HTML are recognised by scanning the
first tags, and ZIP members are listed, never read (except the tiny ODF ``mimetype`` member).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from typing import BinaryIO

OCTET = "application/octet-stream"
ZIP = "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCM = "application/vnd.ms-word.document.macroEnabled.12"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
PPTM = "application/vnd.ms-powerpoint.presentation.macroEnabled.12"

#: How much of a file :func:`detect_file` reads for the magic and text checks.
HEAD_BYTES = 64 * 1024
#: Text files up to this size are read whole, so JSON can be parsed rather than guessed.
WHOLE_TEXT_BYTES = 4 * 1024 * 1024
#: ZIP central directories with more members than this are not listed (a plain ZIP is reported).
MAX_ZIP_MEMBERS = 100_000

# (magic, offset, media type), checked in order.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"SQLite format 3\x00", 0, "application/vnd.sqlite3"),
    (b"PAR1", 0, "application/vnd.apache.parquet"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty archive
_ODF = {
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.oasis.opendocument.graphics",
}

# Markup: skip a BOM, whitespace, an XML declaration, comments, processing instructions and a
# doctype, then look at the first element's name.
_PROLOG = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?
    (?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^<>\[]|\[.*?\])*>)*""",
    re.S | re.X | re.I,
)
_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9_.:-]*)")
_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|head|body)[\s>]", re.I)
_TEXT_HINTS = {".md": "text/markdown", ".markdown": "text/markdown"}


def detect(data: bytes, name: str = "") -> str:
    """The media type of ``data``: either a file's whole content, or its head.

    Given only a head, ZIP containers whose central directory is not in it are reported as
    ``application/zip`` and JSON is recognised by its opening bracket rather than parsed; use
    :func:`detect_file` for a file on disk.
    """
    if data[:4] in _ZIP_MAGIC:
        return _zip_type(io.BytesIO(data))
    return _detect_head(data, name, whole=True)


def detect_file(f: BinaryIO, name: str = "") -> str:
    """The media type of an open, seekable binary file (its position is moved)."""
    f.seek(0)
    head = f.read(HEAD_BYTES)
    if head[:4] in _ZIP_MAGIC:
        return _zip_type(f)
    whole = len(head) < HEAD_BYTES
    if not whole and _looks_textual(head):
        f.seek(0)
        data = f.read(WHOLE_TEXT_BYTES + 1)
        if len(data) <= WHOLE_TEXT_BYTES:
            return _detect_head(data, name, whole=True)
    return _detect_head(head, name, whole=whole)


def _detect_head(head: bytes, name: str, *, whole: bool) -> str:
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if b"%PDF-" in head[:1024]:  # readers accept junk before the header
        return "application/pdf"
    if not head:
        return OCTET
    text = _as_text(head, whole=whole)
    if text is None:
        return OCTET
    return _text_type(head, text, name, whole=whole)


def _looks_textual(head: bytes) -> bool:
    return _as_text(head, whole=False) is not None


def _as_text(head: bytes, *, whole: bool) -> str | None:
    """Decode as UTF-8 text, allowing a character cut at the end of a head; None if binary."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if whole or exc.start < len(head) - 3 or exc.reason != "unexpected end of data":
            return None
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if "\x00" in text or controls > len(text) // 100:
        return None
    return text


def _text_type(head: bytes, text: str, name: str, *, whole: bool) -> str:
    markup = _markup_type(head)
    if markup is not None:
        return markup
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "["):
        if not whole:
            return "application/json"
        try:
            json.loads(stripped)
        except ValueError:
            if _is_ndjson(stripped):
                return "application/x-ndjson"
        else:
            return "application/json"
    delimited = _delimited_type(text, whole=whole)
    if delimited is not None:
        return delimited
    return _TEXT_HINTS.get(_suffix(name), "text/plain")


def _markup_type(head: bytes) -> str | None:
    prolog = _PROLOG.match(head)
    rest = head[prolog.end() if prolog else 0 :]
    if not rest.startswith(b"<"):
        return None
    tag = _TAG.match(rest)
    if tag is not None:
        root = tag.group(1).lower()
        if root == b"svg" or root.endswith(b":svg"):
            return "image/svg+xml"
        if root == b"html":
            return "text/html"
    if _HTML_HINT.search(head[:4096]):
        return "text/html"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
        return "application/xml"
    return None


def _is_ndjson(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(json.loads(line), dict | list) for line in lines)
    except ValueError:
        return False


def _delimited_type(text: str, *, whole: bool) -> str | None:
    """CSV or TSV: at least two rows, every row with the same number (>1) of fields."""
    lines = text.splitlines()
    if not whole and lines:
        lines = lines[:-1]  # the last line of a head may be cut
    lines = [line for line in lines[:200] if line.strip()]
    if len(lines) < 2:
        return None
    sample = "\n".join(lines)
    for delimiter, media_type in (
        ("\t", "text/tab-separated-values"),
        (",", "text/csv"),
        (";", "text/csv"),
    ):
        if delimiter not in lines[0]:
            continue
        try:
            rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter, strict=True))
        except csv.Error:
            continue
        widths = {len(row) for row in rows if row}
        if len(widths) == 1 and widths.pop() > 1:
            return media_type
    return None


def _zip_type(f: BinaryIO) -> str:
    try:
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                return ZIP
            names = {info.filename for info in infos}
            if "mimetype" in names:
                mimetype = _odf_mimetype(zf)
                if mimetype is not None:
                    return mimetype
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return ZIP
    if "[Content_Types].xml" in names:
        tops = {n.split("/", 1)[0] for n in names if "/" in n}
        macros = any(n.endswith("/vbaProject.bin") for n in names)
        if "xl" in tops:
            return XLSM if macros else XLSX
        if "word" in tops:
            return DOCM if macros else DOCX
        if "ppt" in tops:
            return PPTM if macros else PPTX
    return ZIP


def _odf_mimetype(zf: zipfile.ZipFile) -> str | None:
    info = zf.getinfo("mimetype")
    if info.file_size > 100 or info.compress_size > 100:
        return None
    value = zf.read(info).decode("ascii", errors="replace").strip()
    return value if value in _ODF else None


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""
