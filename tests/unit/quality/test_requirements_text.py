"""promptkiln.checks.requirements_text: a stated number of bullets; no placeholder text of the notes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptkiln.checks.requirements import check, feedback, parse
from promptkiln.checks.requirements_text import PLACEHOLDERS, placeholder_check, placeholder_lines

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
    notes += (TEMPLATES.parent / "llm" / "skeleton_data.py").read_text()  # $pages and the like
    for text in PLACEHOLDERS:
        assert text in notes, text
    quoted = set(re.findall(r'"((?:First|Second|Third) (?:point|bullet))"', notes))
    assert quoted <= set(PLACEHOLDERS)


@pytest.mark.parametrize(
    ("prompt", "fmt", "names"),
    [
        ("A one-page formal letter as PDF from Jane Doe to John Smith confirming a meeting",
         "pdf", ["Jane Doe", "John Smith"]),
        ("A memo as a Word document to All Staff from HR about the closure", "docx",
         ["All Staff", "HR"]),
        ("Invoice PDF for ACME Corp with 3 items", "pdf", ["ACME Corp"]),
        ("a letter to Bob from Ana", "docx", []),  # one word each: not sure enough
        ("a thank-you letter to Dr Ana Lima", "pdf", ["Dr Ana Lima"]),
        ("Q1 sales report as a PDF with a revenue chart", "pdf", []),
        ("A report for the North and South regions as PDF, from the CSV", "pdf", []),
        ("revenue from January to March as a PDF", "pdf", []),
        ("a deck for Product Launch 2025 for PowerPoint", "pptx", ["Product Launch"]),
        ("a chart from Jane Doe's data", "png", []),  # no document text to check
    ],
)  # fmt: skip
def test_the_parties_a_document_is_from_to_or_for_must_appear(
    prompt: str, fmt: str, names: list[str]
) -> None:
    reqs = [r for r in parse(prompt, [fmt]) if r.kind == "text"]
    assert [r.params["text"] for r in reqs] == names


def test_a_missing_party_is_unmet_and_says_which() -> None:
    reqs = [r for r in parse("a letter as PDF from Jane Doe to John Smith", ["pdf"])]
    texts = [r for r in reqs if r.kind == "text"]
    facts = {"l.pdf": {"kind": "pdf", "pages": 1, "text": "Dear John Smith, ... Regards"}}
    outcomes = {o.requirement.params["text"]: o.met for o in check(texts, facts)}
    assert outcomes == {"Jane Doe": False, "John Smith": True}
    [line] = feedback([o for o in check(texts, facts) if not o.met])
    assert '"Jane Doe"' in line


def test_a_quoted_party_is_asked_for_once() -> None:
    reqs = parse('a letter as PDF to "John Smith"', ["pdf"])
    assert [r.params["text"] for r in reqs if r.kind == "text"] == ["John Smith"]


def test_the_lines_that_write_placeholder_text_are_named() -> None:
    reqs = placeholder_check("a deck about the launch", ["pptx"])
    facts = {"d.pptx": {"kind": "pptx", "text": "Launch Second bullet Third bullet"}}
    script = (
        "prs = Presentation()\n"
        "body.text = 'Launch'\n"
        "for line in ['Second bullet', 'Third bullet']:\n"
        "    body.add_paragraph().text = line\n"
    )
    [line] = placeholder_lines(check(reqs, facts), script)
    assert line.startswith("line 3 of the script writes placeholder text: `for line in [")
    facts["d.pptx"]["text"] = "Launch: dates, price, channels"
    assert placeholder_lines(check(reqs, facts), script) == []  # met: nothing to point at


@pytest.mark.parametrize(
    ("prompt", "keys"),
    [
        ("JSON summarising sales.csv with the keys total_revenue (a number), best_region "
         "(the region with the most revenue) and regions (the list of regions)",
         ["total_revenue", "best_region", "regions"]),
        ("a JSON file with fields: id, name, price.", ["id", "name", "price"]),
        ("the key findings of the report as JSON", []),
        ("a JSON summary of the data", []),
    ],
)  # fmt: skip
def test_the_keys_a_json_request_names(prompt: str, keys: list[str]) -> None:
    reqs = [r for r in parse(prompt, ["json"]) if r.kind == "json_key"]
    assert [r.params["key"] for r in reqs] == keys
    assert not [r for r in parse(prompt, ["csv"]) if r.kind == "json_key"]


def test_a_missing_json_key_is_unmet_with_the_name_to_use() -> None:
    reqs = [r for r in parse("JSON with the keys total and regions", ["json"])]
    facts = {"s.json": {"kind": "json", "text": '{"total": 3, "labels": ["N", "S"]}'}}
    outcomes = check(reqs, facts)
    assert [(o.requirement.params["key"], o.met) for o in outcomes] == [
        ("total", True),
        ("regions", False),
    ]
    [line] = feedback(outcomes)
    assert 'name the key exactly "regions"' in line and "s.json" in line
