"""The user message of the first request: everything about this request, after the cached prefix.

The system prompt (:func:`promptkiln.llm.prompts.render_system`) is the same for all requests of
the same formats; what differs from one request to the next comes here, last, so a server's
prompt cache reuses the whole system prompt: the request, the input files, the files of earlier
steps, the data lines the notes' skeletons start from, and the formats restated (small models
follow them better when they are the last thing they read).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from promptkiln.llm.generate import Message
from promptkiln.llm.prompts import (
    InputSummary,
    _format_label,
    _printable,
    _size,
    format_names,
    render_system,
)
from promptkiln.llm.skeleton_data import (
    data_lines,
    pages_lines,
    row_formula_lines,
    slide_per_row_lines,
    slides_lines,
    statistics_line,
    totals_line,
    wants_data,
)

#: Formats whose skeleton starts from ``df``, ``label`` and ``value``.
DATA_FORMATS = frozenset(
    {"pdf", "xlsx", "docx", "pptx", "png", "jpg", "svg", "csv", "json", "parquet"}
)


def inputs_block(inputs: Sequence[InputSummary]) -> str:
    """The input files, one line each: name, size, a table's header, row count, first rows."""
    if not inputs:
        return "Input files: none."
    lines = ["Input files in ./inputs/ (read them, do not change them):"]
    for item in inputs:
        line = f"  - inputs/{_printable(item.name)} ({_size(item.size)})"
        if item.header is not None:
            line += f", header: {item.header}"
        if item.rows is not None:
            line += f"; {item.rows} data rows"
            if item.sample:
                line += ", the first: " + " | ".join(item.sample)
        lines.append(line)
    return "\n".join(lines)


def _code(lines: Sequence[str]) -> str:
    body = "\n".join(line for line in lines if line.strip())
    return f"```python\n{body}\n```" if body else ""


def skeleton_block(names: Sequence[str], inputs: Sequence[InputSummary], prompt: str) -> str:
    """The lines of this request that the notes' skeletons leave open: where ``df``, ``label``
    and ``value`` come from, and any lines the request asks for (a formula column, pages,
    a slide per row)."""
    if not DATA_FORMATS.intersection(names):
        return ""
    parts: list[str] = []
    with_data = wants_data(inputs, prompt)
    if with_data:
        totals = statistics_line(inputs, prompt) or totals_line(inputs)
        parts.append("The data lines (they set `df`, `label`, `value`):\n" + _code(
            [data_lines(inputs, prompt), totals]
        ))  # fmt: skip
    else:
        parts.append(
            "This request has no table of data: leave the skeleton's pandas, table and chart "
            "out; text and bullets come from the request."
        )
    extra = [pages_lines(prompt) if "pdf" in names else ""]
    if "xlsx" in names:
        extra.append(row_formula_lines(inputs, prompt))
    if "pptx" in names:
        extra += [slide_per_row_lines(prompt), slides_lines(prompt, with_data=with_data)]
    more = _code(extra)
    if more:
        parts.append("Lines this request needs (put each where it fits in the skeleton):\n" + more)
    return "\n".join(parts)


def render_request(
    prompt: str,
    names: Sequence[str],
    inputs: Sequence[InputSummary],
    *,
    existing_files: Sequence[str] = (),
) -> str:
    """The first user message: the request, its inputs, earlier files, its skeleton lines and
    the formats (``names`` already normalised)."""
    parts = [prompt.strip(), inputs_block(inputs)]
    if existing_files:
        listed = ", ".join(_printable(n) for n in existing_files)
        parts.append(
            f"The current versions of files from earlier steps are in ./inputs/: {listed}. "
            "Start from them and write the updated files to the working directory under the "
            "same names."
        )
    parts.append(skeleton_block(names, inputs, prompt))
    parts.append(f"Output: {_format_label(names)}")
    return "\n\n".join(p for p in parts if p)


def render_messages(
    prompt: str,
    formats: Sequence[str],
    inputs: Sequence[InputSummary],
    *,
    templates_dir: Path | None = None,
    existing_files: Sequence[str] = (),
    libraries: Sequence[str] | None = None,
) -> list[Message]:
    """The first request: the system prompt (the same for every request of these formats), then
    everything about this request in the user message, last (see
    :func:`render_request`)."""
    system = render_system(formats, templates_dir=templates_dir, libraries=libraries)
    user = render_request(prompt, format_names(formats), inputs, existing_files=existing_files)
    return [Message("system", system), Message("user", user)]
