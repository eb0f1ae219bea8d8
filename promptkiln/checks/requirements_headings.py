"""Quoted headings a Word document must have *as headings*.

"A Word document with the headings 'Goals', 'Timeline' and 'Risks'" is not met by paragraphs
that start "Goals: ..." — the quoted-text check finds the words, but the document has no such
heading. A heading is a paragraph in a Heading or Title style, a paragraph whose runs are all
bold, or a short paragraph of its own (at most 60 characters, not ending in a full stop); the
quoted text must be one of them (case and a trailing colon aside). Read from the facts'
``heading_lines``, which :func:`promptkiln.checks.facts` fills for a docx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks.requirement import Outcome, Requirement

#: Quoted phrases after one of these (within the same clause) name headings.
_HEADINGS = re.compile(
    r"\b(?:headings?|section (?:headings?|titles?)|sections? (?:titled|named|called))\b"
)
_QUOTED = re.compile(r"\"([^\"\n]{1,60})\"|“([^”\n]{1,60})”|(?<![\w])'([^'\n]{1,60})'(?![\w])")
#: A list of quoted phrases: 'A', 'B' and 'C'.
_LIST_GAP = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|&\s*)$")


def parse(text: str, formats: Sequence[str]) -> list[Requirement]:
    if "docx" not in formats:
        return []
    reqs: list[Requirement] = []
    for m in _HEADINGS.finditer(text.lower()):
        end = m.end()
        for q in _QUOTED.finditer(text, end):
            between = text[end : q.start()]
            first = end == m.end()
            if not (first and re.fullmatch(r"\s*(?::|of|like|such as)?\s*", between)) and not (
                not first and _LIST_GAP.match(between)
            ):
                break
            heading = next(g for g in q.groups() if g).strip()
            if heading and all(r.params["text"] != heading for r in reqs):
                reqs.append(
                    Requirement(
                        "heading", f'"{heading}" is a heading of the docx', {"text": heading}
                    )
                )
            end = q.end()
    return reqs


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(":").strip()


def check(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome | None:
    if req.kind != "heading":
        return None
    docs = [(name, f) for name, f in facts.items() if f.get("kind") == "docx"]
    if not docs:
        return Outcome(req, False, "no docx was made")
    want = _norm(req.params["text"])
    for _, f in docs:
        lines = [_norm(str(line)) for line in f.get("heading_lines", [])]
        if any(line == want or line.startswith(want + " ") for line in lines):
            return Outcome(req, True)
    names = ", ".join(name for name, _ in docs)
    return Outcome(req, False, f"{names}: no heading {req.params['text']!r}")
