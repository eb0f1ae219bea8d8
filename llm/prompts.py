"""Render the chat messages that ask a model for a script.

The system prompt is ``templates/system.md`` (the sandbox contract) with one note per requested
format (``templates/<format>.md``) appended. It never depends on the request, so it is
byte-identical for all requests of the same formats and a server's prompt cache (llama.cpp's KV
cache) serves it; the request, its inputs and everything else request-specific come last, in the
user message (:mod:`promptkiln.llm.request_prompt`). Templates are package
data; a ``templates_dir`` (``--templates DIR``) overrides them file by file: a file there wins,
anything it lacks falls back to the built-in one.

Templates use ``string.Template`` placeholders (``$formats``, ``$libraries``, ``$notes`` in
``system.md``; ``$ext`` in ``generic.md``), so the Python braces in
them need no escaping. They are kept short on purpose: the bundled local model has a ~8k-token
context.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from promptkiln.errors import UsageError
from promptkiln.llm.generate import Message
from promptkiln.llm.libraries import (
    DEFAULT_LIBRARIES,
    fallback_note,
    library_line,
    missing_for,
)
from promptkiln.llm.skeleton_data import data_blocks
from promptkiln.sandbox.base import InputFile

#: Formats with their own template.
FORMATS: tuple[str, ...] = (
    "pdf",
    "xlsx",
    "docx",
    "pptx",
    "png",
    "jpg",
    "svg",
    "csv",
    "json",
    "md",
    "txt",
    "html",
    "parquet",
)
#: Other spellings of the same formats.
ALIASES: dict[str, str] = {
    "jpeg": "jpg",
    "htm": "html",
    "markdown": "md",
    "text": "txt",
    "yml": "yaml",
}
#: Formats the sandbox can plainly produce that get the short generic note.
GENERIC_FORMATS: tuple[str, ...] = (
    "tsv",
    "xml",
    "yaml",
    "gif",
    "webp",
    "bmp",
    "tiff",
    "ico",
    "eps",
    "ps",
    "tex",
    "rtf",
    "ics",
    "geojson",
)

#: Formats per request that get their whole skeleton; past this, each note is cut to its prose
#: (the system prompt must leave the small bundled model room to answer).
MAX_SKELETONS = 2
#: Bytes of a CSV/TSV input's first line shown to the model.
HEADER_CHARS = 300
#: Data lines of a CSV/TSV input shown to the model after its header.
SAMPLE_ROWS = 2
#: Characters of stderr passed back in a repair message.
STDERR_TAIL_CHARS = 1500
#: A rough tokens-per-character ratio for English prose and code (about 4 characters a token).
CHARS_PER_TOKEN = 4.0

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
            header = _printable(first.decode("utf-8", errors="replace").lstrip("\ufeff"))
            header = header[:HEADER_CHARS]
            ends = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            rows = max(0, ends - 1 - data.count(b"\n\n"))  # data lines: no header, no blank
            sample = tuple(
                _printable(ln[: HEADER_CHARS * 4].decode("utf-8", errors="replace"))[:HEADER_CHARS]
                for ln in lines[1 : 1 + SAMPLE_ROWS]
            )
            sep = "\t" if name.lower().endswith(".tsv") else ","
            numeric = _numeric_columns(header, lines[1:21], sep)
        return cls(name, len(data), header, rows, sample, numeric)


def summarize_inputs(files: Iterable[InputFile]) -> list[InputSummary]:
    """Summaries of the files the sandbox will place under ``inputs/``."""
    return [InputSummary.from_bytes(f.name, f.data) for f in files]


def normalize_format(fmt: str) -> str:
    """``".JPEG"`` -> ``"jpg"``. Raises :class:`UsageError` for an unsupported format."""
    name = fmt.strip().lower().lstrip(".")
    name = ALIASES.get(name, name)
    if name in FORMATS or name in GENERIC_FORMATS:
        return name
    raise UsageError(
        f"unsupported output format {fmt!r}",
        hint=f"choose from: {', '.join(FORMATS + GENERIC_FORMATS)}",
    )


def load_template(name: str, templates_dir: Path | None = None) -> str:
    """The text of ``<name>.md``: from ``templates_dir`` if it has it, else the built-in one."""
    filename = f"{name}.md"
    if templates_dir is not None:
        candidate = Path(templates_dir) / filename
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(
                    f"cannot read the template {candidate}: {exc}",
                    hint="fix the file or remove it to use the built-in template",
                ) from exc
    return resources.files("promptkiln.templates").joinpath(filename).read_text(encoding="utf-8")


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


def _printable(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text))


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _format_label(formats: Sequence[str]) -> str:
    return ", ".join(f".{f}" for f in formats)


def format_names(formats: Sequence[str]) -> list[str]:
    """The requested formats, normalised, each once, in order. Raises :class:`UsageError`."""
    if not formats:
        raise UsageError("no output format requested", hint="pass at least one, e.g. --format pdf")
    return list(dict.fromkeys(normalize_format(f) for f in formats))


#: What a note's request-shaped placeholders say in the system prompt, the same for every request
#: (the request's own lines come with the request: :mod:`promptkiln.llm.request_prompt`).
NEUTRAL = {
    "data": "# df, label, value: the data lines given with the request",
    "totals": "",
    "rowformula": "",
    "pages": "",
    "headline": '"Paragraph text."',
    "perrow": "",
    "slides": "",
}


def render_notes(
    names: Sequence[str],
    *,
    templates_dir: Path | None = None,
    libraries: Sequence[str] | None = None,
) -> list[str]:
    """One note per format, the same for every request of these formats (the cacheable part)."""
    notes = []
    for name in names:
        lacking = missing_for(name, libraries) if libraries is not None else None
        fallback = fallback_note(name, libraries) if lacking and libraries is not None else None
        if fallback is not None:  # the template lacks the note's package but has another way
            notes.append(fallback)
        elif name in FORMATS:
            note = data_blocks(load_template(name, templates_dir), True).strip()
            note = string.Template(note).safe_substitute(NEUTRAL)
            note = re.sub(r"\n{3,}", "\n\n", note)
            if len(names) > MAX_SKELETONS:
                note = short_note(note)
            notes.append(note)
        else:
            generic = string.Template(load_template("generic", templates_dir))
            notes.append(generic.safe_substitute(ext=name).strip())
    return notes


def render_system(
    formats: Sequence[str],
    *,
    templates_dir: Path | None = None,
    libraries: Sequence[str] | None = None,
) -> str:
    """The system prompt: the sandbox contract and the format notes. It depends on the formats,
    the templates and the sandbox's libraries only, never on the request, so it is
    byte-identical for every request of the same formats and a server's prompt cache serves it.

    ``libraries`` are the distributions the sandbox really has, when they were looked up (E2B's
    stock template, kernel mode); None means promptkiln's own image and its usual list."""
    names = format_names(formats)
    notes = render_notes(names, templates_dir=templates_dir, libraries=libraries)
    system = string.Template(load_template("system", templates_dir))
    text = system.safe_substitute(
        # a user's own system.md from before may still name these: they come with the request
        inputs="  (listed with the request)",
        existing="",
        formats=_format_label(names),
        libraries=DEFAULT_LIBRARIES if libraries is None else library_line(libraries),
        notes="\n".join(notes),
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def short_note(note: str) -> str:
    """A format note without its code skeleton (and the sentence that introduces it)."""
    prose = note.split("```", 1)[0].strip()
    return re.sub(r"\s*Working skeleton[^:]*:\s*$", "", prose)


def tail(text: str, limit: int = STDERR_TAIL_CHARS) -> str:
    """The last ``limit`` characters of ``text``, starting at a line boundary when possible,
    without ANSI escapes or control characters."""
    clean = _printable(text.replace("\r\n", "\n")).rstrip()
    if len(clean) <= limit:
        return clean
    cut = clean[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < limit // 2 else cut


def repair_message(problem: str, *, stderr: str = "") -> Message:
    """Feedback after a failed attempt, to append after the model's previous answer.

    ``problem`` says what went wrong in one or two sentences (``"the script exited with
    status 1"``, ``"no .xlsx file was written"``, ``"report.pdf is not a valid PDF: ..."``);
    ``stderr`` is the run's stderr, of which only the tail is sent.
    """
    parts = [f"That did not work: {problem.strip()}"]
    if stderr.strip():
        parts.append(f"End of stderr:\n```\n{tail(stderr)}\n```")
    parts.append(
        "Fix the cause and answer with the complete corrected script in exactly one "
        "```python block."
    )
    return Message("user", "\n\n".join(parts))


def estimate_tokens(text: str) -> int:
    """A rough token count (characters / 4), good enough to keep templates inside a budget."""
    return int(len(text) / CHARS_PER_TOKEN) + 1
