"""What the model is told about one input file: its name, size and, for a table, its header,
row count, first rows and number columns (read from the head of the bytes, never executed)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from promptkiln.sandbox.base import InputFile

#: Bytes of a CSV/TSV input's first line shown to the model.
HEADER_CHARS = 300
#: Data lines of a CSV/TSV input shown to the model after its header.
SAMPLE_ROWS = 2
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class InputSummary:
    """What the model is told about one input file."""

    name: str  #: its name under ``inputs/``
    size: int  #: bytes
    header: str | None = None  #: the first line of a CSV/TSV file, cut to HEADER_CHARS
    rows: int | None = None  #: a CSV/TSV file's data lines (after the header)
    sample: tuple[str, ...] = ()  #: its first data lines, cut to HEADER_CHARS each
    numeric: tuple[str, ...] = ()  #: its columns whose first values are all numbers

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> InputSummary:
        header: str | None = None
        rows: int | None = None
        sample: tuple[str, ...] = ()
        numeric: tuple[str, ...] = ()
        if name.lower().endswith((".csv", ".tsv")):
            lines = [ln for ln in data[:65536].split(b"\n") if ln.strip()]  # the head only
            first = lines[0][: HEADER_CHARS * 4] if lines else b""
            header = printable(first.decode("utf-8", errors="replace").lstrip("\ufeff"))
            header = header[:HEADER_CHARS]
            ends = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            rows = max(0, ends - 1 - data.count(b"\n\n"))  # data lines: no header, no blank
            sample = tuple(
                printable(ln[: HEADER_CHARS * 4].decode("utf-8", errors="replace"))[:HEADER_CHARS]
                for ln in lines[1 : 1 + SAMPLE_ROWS]
            )
            sep = "\t" if name.lower().endswith(".tsv") else ","
            numeric = _numeric_columns(header, lines[1:21], sep)
        return cls(name, len(data), header, rows, sample, numeric)


def summarize_inputs(files: Iterable[InputFile]) -> list[InputSummary]:
    """Summaries of the files the sandbox will place under ``inputs/``."""
    return [InputSummary.from_bytes(f.name, f.data) for f in files]


def _numeric_columns(header: str | None, lines: Sequence[bytes], sep: str) -> tuple[str, ...]:
    if not header or not lines:
        return ()
    import csv

    names = next(csv.reader([header], delimiter=sep))
    rows = list(csv.reader([ln.decode("utf-8", "replace") for ln in lines], delimiter=sep))
    out = []
    for i, name in enumerate(names):
        values = [r[i].strip() for r in rows if i < len(r) and r[i].strip()]
        if values and all(_is_number(v) for v in values):
            out.append(name.strip())
    return tuple(out)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "") if text.count(",") and "." in text else text)
    except ValueError:
        return False
    return True


def printable(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text))


def size_label(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")
