"""Requirements a rule cannot read, asked of the model in one short call (opt-in:
``--model-requirements``, ``model_requirements`` in the config).

The rules in :mod:`promptkiln.checks.requirements` only take phrasing they are sure of. "A letter
confirming the meeting with the Lisbon office on 12 March" states words the file must hold that
no rule reads; the model is asked for them. Only strings found verbatim in the prompt, with a
capital letter or a digit (names, titles, dates, labels), are kept, so a model that invents or
echoes generic words ("report") cannot add a requirement the user did not state. A failed or
garbled answer adds nothing; the request goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from promptkiln.checks.requirements import Requirement
from promptkiln.errors import GenerationError

if TYPE_CHECKING:
    from promptkiln.llm.generate import CodeGenerator

SYSTEM = (
    "You read a request for files and list the exact words the files must contain: names of "
    "people, teams and organisations, titles, headings, dates and labels that the request "
    "states. Answer with only a JSON array of strings, each copied exactly from the request, "
    "or [] if there are none."
)
#: Most words taken from one answer.
MAX_WORDS = 8
_FORMAT_WORDS = re.compile(
    r"(?i)(pdf|png|svg|jpe?g|csv|json|xlsx|docx|pptx|parquet|excel|word|powerpoint)"
)
_DOCUMENT_KINDS = {"pdf", "docx", "pptx", "xlsx", "md", "txt", "html"}


def ask(
    gen: CodeGenerator,
    prompt: str,
    formats: Sequence[str],
    have: Sequence[Requirement],
    progress: Callable[[str], None],
) -> list[Requirement]:
    """The exact words the model reads in ``prompt``, as text requirements not in ``have``."""
    if not set(formats) & _DOCUMENT_KINDS:
        return []
    from promptkiln.llm.generate import Message, Sampling

    with_sampling = getattr(gen, "with_sampling", None)
    if callable(with_sampling):
        gen = with_sampling(Sampling(temperature=0.0, max_tokens=200))
    progress("asking the model which exact words the files must hold")
    try:
        answer = gen.generate([Message("system", SYSTEM), Message("user", prompt)]).text
    except GenerationError as exc:
        progress(f"could not ask for the request's exact words ({exc.message}); going on")
        return []
    return from_answer(answer, prompt, have)


def from_answer(answer: str, prompt: str, have: Sequence[Requirement]) -> list[Requirement]:
    """The text requirements in a model's answer: strings of the prompt, not yet required."""
    found = re.search(r"\[.*?\]", answer, re.S)
    try:
        items = json.loads(found.group(0)) if found else []
    except ValueError:
        return []
    flat = " ".join(prompt.split()).lower()
    known = {str(r.params.get("text", "")).lower() for r in have if r.kind == "text"}
    out: list[Requirement] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, str):
            continue
        text = " ".join(item.split()).strip(" .,;:'\"")
        if not 2 <= len(text) <= 80 or text.lower() in known or text.lower() not in flat:
            continue
        if not re.search(r"[A-Z0-9]", text) or _FORMAT_WORDS.fullmatch(text):
            continue
        known.add(text.lower())
        out.append(Requirement("text", f'the text "{text}" appears', {"text": text}))
    return out[:MAX_WORDS]
