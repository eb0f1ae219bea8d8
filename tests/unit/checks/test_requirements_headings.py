"""Quoted headings a Word document must have as headings, judged on real files (python-docx)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from promptkiln.checks.facts import file_facts
from promptkiln.checks.requirements import check, how_to_meet, parse

PROMPT = (
    "Word document titled 'Project Plan' with the headings 'Goals', 'Timeline' and 'Risks', "
    "each followed by a short paragraph"
)


def _styled(doc: docx.document.Document, name: str) -> None:
    doc.add_heading(name, level=1)
    doc.add_paragraph(f"What the {name.lower()} are, in a sentence.")


def _bold(doc: docx.document.Document, name: str) -> None:
    doc.add_paragraph().add_run(f"{name}:").bold = True
    doc.add_paragraph(f"What the {name.lower()} are, in a sentence.")


def _run_in(doc: docx.document.Document, name: str) -> None:  # the words, but no heading
    doc.add_paragraph(f"{name}: what the {name.lower()} are, in a sentence.")


def _write(path: Path, section: Callable[[docx.document.Document, str], None]) -> Path:
    doc = docx.Document()
    doc.add_heading("Project Plan", level=0)
    for name in ("Goals", "Timeline", "Risks"):
        section(doc, name)
    doc.save(str(path))
    return path


def test_the_quoted_headings_are_read_from_the_request() -> None:
    heads = [r.params["text"] for r in parse(PROMPT, ["docx"]) if r.kind == "heading"]
    assert heads == ["Goals", "Timeline", "Risks"]  # the title is not one of them
    assert not [r for r in parse(PROMPT, ["pdf"]) if r.kind == "heading"]
    other = parse('a memo with the heading "Summary" and a table', ["docx"])
    assert [r.params["text"] for r in other if r.kind == "heading"] == ["Summary"]
    assert not [r for r in parse("a report titled 'Goals'", ["docx"]) if r.kind == "heading"]


@pytest.mark.parametrize(("section", "right"), [(_styled, True), (_bold, True), (_run_in, False)])
def test_a_heading_is_a_paragraph_of_its_own(
    tmp_path: Path, section: Callable[[docx.document.Document, str], None], right: bool
) -> None:
    path = _write(tmp_path / "plan.docx", section)
    reqs = [r for r in parse(PROMPT, ["docx"]) if r.kind == "heading"]
    outcomes = check(reqs, {"plan.docx": file_facts(path, "docx")})
    assert [o.met for o in outcomes] == [right] * 3
    if not right:
        assert outcomes[0].detail == "plan.docx: no heading 'Goals'"
        assert how_to_meet(outcomes[0].requirement, ["docx"]) == (
            'a heading paragraph of its own: doc.add_heading("Goals", level=1)'
        )
