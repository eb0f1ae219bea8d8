"""promptkiln.checks.requirements_facts: the dates and amounts a request states for a document
made from the request alone are in the document, written any common way."""

from __future__ import annotations

import pytest

from promptkiln.checks.requirements import check, feedback, parse

LETTER = (
    "Offer letter from Northwind Traders to Elena Petrova for the position of Data Analyst, "
    "starting 1 September 2025, with a salary of 58,000 a year."
)


def _facts(text: str, rows: list[list[str]] | None = None) -> dict[str, dict[str, object]]:
    return {"offer.docx": {"kind": "docx", "text": text, "rows": rows or []}}


def test_a_letters_date_and_amount_are_required_and_read_in_any_common_writing() -> None:
    reqs = [r for r in parse(LETTER, ["docx"]) if r.kind in ("date", "amount")]
    assert [(r.kind, r.params) for r in reqs] == [
        ("date", {"date": "2025-09-01"}),
        ("amount", {"value": 58000.0}),
    ]
    for text in (
        "Start date: September 1st, 2025. Salary: $58,000 per year.",
        "You start on 01/09/2025 at EUR 58,000.00 a year.",
        "Start: 2025-09-01",
    ):
        outcomes = check(reqs, _facts(text, [["Salary", "58000"]]))
        assert all(o.met for o in outcomes), (text, outcomes)
    missing = check(reqs, _facts("Dear Elena, we are pleased to offer you the position."))
    assert [o.met for o in missing] == [False, False]
    lines = feedback(missing)
    assert any('the date "1 September 2025" appears' in line for line in lines), lines


@pytest.mark.parametrize(
    "prompt",
    [
        "A 2-page PDF report with a 1200x800 chart of Q1 2024 sales, 3 sections",
        "A memo dated 2025 to all staff about the 12 new laptops",
    ],
)
def test_sizes_years_and_small_counts_are_no_amounts(prompt: str) -> None:
    assert not [r for r in parse(prompt, ["pdf"]) if r.kind in ("date", "amount")]


def test_with_inputs_or_without_a_document_nothing_is_required() -> None:
    assert not [r for r in parse(LETTER, ["docx"], {"staff.csv": b"a\n1\n"}) if r.kind == "date"]
    assert not [r for r in parse(LETTER, ["png"]) if r.kind in ("date", "amount")]


def test_the_numbers_of_a_requested_chart_are_the_charts_not_the_texts() -> None:
    prompt = "A slide with a native column chart of revenue by quarter: Q1 2.1, Q2 2.8"
    assert not [r for r in parse(prompt, ["pptx"]) if r.kind == "amount"]
    reqs = [r for r in parse("A memo: the budget is 1,250.50 this year", ["pptx"])]
    chart = {
        "kind": "pptx",
        "text": "Budget",
        "native_charts": [{"series": [{"values": [1250.5]}]}],
    }
    assert check(reqs, {"m.pptx": chart})[0].met
