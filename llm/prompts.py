"""Render the chat messages that ask a model for a script.

The system prompt is ``templates/system.md`` (the sandbox contract) with one note per requested
format (``templates/<format>.md``) appended, and the plan note when a plan is asked for. It
depends on nothing but the formats, the sandbox's libraries and the plan switch, so two requests
of the same formats send the same bytes first and a model server's prompt cache serves them.
Everything about one request (its words, its inputs' profile, the files of earlier steps) comes
after, in the user message (:func:`promptkiln.llm.request_prompt.render_request`).

The notes teach library APIs with neutral names (``title``, ``labels``, ``values``, ``header``,
``rows``); nothing in them is chosen by the request's words, and none holds sample data to copy.
Templates are package data; a ``templates_dir`` (``--templates DIR``) overrides them file by
file: a file there wins, anything it lacks falls back to the built-in one. They use
``string.Template`` placeholders (``$formats``, ``$libraries``, ``$plan``, ``$pandas``, ``$notes`` in
``system.md``; ``$ext`` in ``generic.md``), so the Python braces in them need no escaping.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
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
#: Characters of stderr passed back in a repair message.
STDERR_TAIL_CHARS = 1500
#: A rough tokens-per-character ratio for English prose and code (about 4 characters a token).
CHARS_PER_TOKEN = 4.0

#: ``$pandas`` in system.md without a plan (with one, the script request has its own pandas).
PANDAS_NOTE = (
    '- Data with pandas: `df = pd.read_csv("inputs/NAME.csv")` (read_excel(path, '
    "sheet_name=NAME), read_json, read_parquet). One value per group: "
    '`s = df.groupby(COLUMN)[VALUE].agg(AGG)` with AGG "sum", "mean", "count", "min", "max" '
    'or "median"; highest first: `s = s.sort_values(ascending=False)`; one column per series: '
    "`df.pivot_table(index=X, columns=SERIES, values=VALUE, aggfunc=AGG)`; rows as they are: "
    "`df[X]`, `df[VALUE]`."
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


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


def _printable(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text))


def _format_label(formats: Sequence[str]) -> str:
    return ", ".join(f".{f}" for f in formats)


def render_system(
    formats: Sequence[str],
    *,
    templates_dir: Path | None = None,
    libraries: Sequence[str] | None = None,
    plan: bool = False,
) -> str:
    """The system prompt: the same bytes for the same formats, libraries and plan switch.

    ``libraries`` are the distributions the sandbox really has, when they were looked up (E2B's
    stock template, kernel mode); None means promptkiln's own image and its usual list.
    ``plan``: the model is first asked for a plan (:mod:`promptkiln.llm.plan`)."""
    from promptkiln.llm.plan import PLAN_NOTE

    if not formats:
        raise UsageError("no output format requested", hint="pass at least one, e.g. --format pdf")
    names = list(dict.fromkeys(normalize_format(f) for f in formats))
    notes = []
    for name in names:
        lacking = missing_for(name, libraries) if libraries is not None else None
        fallback = fallback_note(name, libraries) if lacking and libraries is not None else None
        if fallback is not None:  # the template lacks the note's package but has another way
            notes.append(fallback)
        elif name in FORMATS:
            note = load_template(name, templates_dir).strip()
            if len(names) > MAX_SKELETONS:
                note = short_note(note)
            notes.append(note)
        else:
            generic = string.Template(load_template("generic", templates_dir))
            notes.append(generic.safe_substitute(ext=name).strip())
    system = string.Template(load_template("system", templates_dir))
    text = system.safe_substitute(
        formats=_format_label(names),
        libraries=DEFAULT_LIBRARIES if libraries is None else library_line(libraries),
        plan=PLAN_NOTE if plan else "",
        pandas="" if plan else PANDAS_NOTE,  # with a plan, its data comes as pandas code
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
