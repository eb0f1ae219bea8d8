"""The user message of the first request: everything about this request, after the cached prefix.

The system prompt (:func:`promptkiln.llm.prompts.render_system`) is the same for all requests of
the same formats (and plan switch); what differs from one request to the next comes here, last,
so a server's prompt cache reuses the whole system prompt: the request, the formats restated,
the inputs as their profile tells them (:func:`promptkiln.checks.profile.render_profile`,
computed in the sandbox), the files of earlier steps, and the ask for the plan when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from promptkiln.llm.generate import Message
from promptkiln.llm.prompts import _format_label, _printable, normalize_format, render_system


def render_request(
    prompt: str,
    formats: Sequence[str],
    inputs: str = "",
    *,
    existing_files: Sequence[str] = (),
    plan: bool = False,
) -> str:
    """The user message: the request, the inputs as their profile tells them, the files of
    earlier steps, the formats restated (small models follow them better when they are among the
    last things they read), and the ask for the plan when there is one."""
    names = list(dict.fromkeys(normalize_format(f) for f in formats))
    parts = [prompt.strip()]
    if inputs.strip():
        parts.append(f"Input files:\n{_printable(inputs.strip())}")
    if existing_files:
        listed = ", ".join(_printable(n) for n in existing_files)
        parts.append(
            f"The current versions of files from earlier steps are in ./inputs/: {listed}. "
            "Start from them and write the updated files to the working directory under the "
            "same names."
        )
    parts.append(f"Output: {_format_label(names)}")
    if plan:
        from promptkiln.llm.plan import ASK_PLAN

        parts.append(ASK_PLAN)
    return "\n\n".join(parts)


def render_messages(
    prompt: str,
    formats: Sequence[str],
    inputs: str = "",
    *,
    templates_dir: Path | None = None,
    existing_files: Sequence[str] = (),
    libraries: Sequence[str] | None = None,
    plan: bool = False,
) -> list[Message]:
    """The first request: the system prompt and the user message."""
    system = render_system(formats, templates_dir=templates_dir, libraries=libraries, plan=plan)
    user = render_request(prompt, formats, inputs, existing_files=existing_files, plan=plan)
    return [Message("system", system), Message("user", user)]
