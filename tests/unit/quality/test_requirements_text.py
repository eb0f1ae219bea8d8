"""promptkiln.requirements_text: a stated number of bullets; no placeholder text of the notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptkiln.requirements import check, feedback, parse
from promptkiln.requirements_text import PLACEHOLDERS, placeholder_check

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


@pytest.mark.parametrize(
    ("prompt", "n"),
    [
        ("Meeting notes as a Word document with a bulleted list of 4 action items", 4),
        ("a memo with three bullet points", 3),
        ("a document with 5 bullets", 5),
    ],
)
def test_a_stated_number_of_bullets(prompt: str, n: int) -> None:
    reqs = [r for r in parse(prompt, ["docx"]) if r.kind == "bullets"]
    assert [r.params for r in reqs] == [{"n": n}]
    short = {"m.docx": {"kind": "docx", "bullets": n - 1, "text": ""}}
    [line] = feedback(check(reqs, short))
    assert f"has {n - 1} bulleted paragraphs" in line and 'style="List Bullet"' in line
    assert check(reqs, {"m.docx": {"kind": "docx", "bullets": n, "text": ""}})[0].met


def test_placeholder_text_left_in_a_document_is_unmet() -> None:
    reqs = placeholder_check("Meeting notes as a Word document", ["docx"])
    facts = {"m.docx": {"kind": "docx", "text": "Notes First point Second point"}}
    [outcome] = check(reqs, facts)
    assert not outcome.met and "m.docx still says 'First point'" in outcome.detail
    facts["m.docx"]["text"] = "Notes: book the room; send the agenda"
    assert check(reqs, facts)[0].met


def test_a_placeholder_the_prompt_itself_uses_is_allowed_and_images_are_not_checked() -> None:
    [req] = placeholder_check('A slide titled "Deck title"', ["pptx"])
    assert "Deck title" not in req.params["texts"]
    assert placeholder_check("a chart", ["png"]) == []


def test_the_placeholder_list_matches_the_skeletons() -> None:
    notes = " ".join(p.read_text() for p in TEMPLATES.glob("*.md"))
    for text in PLACEHOLDERS:
        assert text in notes, text
    quoted = set(re.findall(r'"((?:First|Second|Third) (?:point|bullet))"', notes))
    assert quoted <= set(PLACEHOLDERS)
