"""The cacheable prefix: what a server's prompt cache can reuse from one request to the next."""

from __future__ import annotations

import pytest

from promptkiln.llm.generate import Message
from promptkiln.llm.prompts import InputSummary
from promptkiln.llm.request_prompt import render_messages
from promptkiln.making.repair import Feedback, as_answer, repair_request

SALES = InputSummary.from_bytes("sales.csv", b"region,revenue\nNorth,1200\nSouth,950\n")
GRADES = InputSummary.from_bytes("grades.tsv", b"student\ttest1\ttest2\nAna\t80\t85\n")


@pytest.mark.parametrize("formats", [["png"], ["pdf", "xlsx"], ["pptx", "docx", "csv", "md"]])
def test_the_prefix_is_byte_identical_across_two_requests_of_the_same_formats(
    formats: list[str],
) -> None:
    first = render_messages("A bar chart of revenue per region", formats, [SALES])
    second = render_messages(
        "A 3-page report: the average of each student's tests, one slide per student",
        formats,
        [GRADES, SALES],
        existing_files=["old-report.pdf"],
    )
    assert first[0].role == second[0].role == "system"
    assert first[0].content.encode() == second[0].content.encode()
    # everything request-specific is in the last message, and only there
    for needle in ("3-page report", "grades.tsv", "old-report.pdf", "student\ttest1"):
        assert needle not in second[0].content
        assert needle in second[-1].content
    assert second[-1].content.endswith("Output: " + ", ".join(f".{f}" for f in formats))


def test_other_formats_have_their_own_prefix() -> None:
    png = render_messages("a chart", ["png"], [])[0].content
    pdf = render_messages("a chart", ["pdf"], [])[0].content
    assert png != pdf


def test_a_repair_extends_the_conversation_the_model_already_read() -> None:
    first = render_messages("a chart of revenue", ["png"], [SALES])
    answer = "Here it is:\n```python\nprint(1/0)\n```"
    second = repair_request(first, as_answer("print(1/0)", answer), Feedback("it crashed"))
    assert second[: len(first)] == first
    assert second[len(first)] == Message("assistant", answer)  # the answer as it was written
    assert second[-1].role == "user" and "it crashed" in second[-1].content
    third = repair_request(second, "```python\nprint(2)\n```", Feedback("no file"))
    assert third[: len(second)] == second and len(third) == len(second) + 2


def test_a_patched_script_is_shown_as_it_ran_and_a_long_conversation_drops_old_repairs() -> None:
    assert as_answer("x = 1", "```python\nx=1\n```", patched=True) == "```python\nx = 1\n```"
    first = render_messages("a chart", ["png"], [])
    long_answer = "```python\n" + "x = 1\n" * 4000 + "```"
    second = repair_request(first, long_answer, Feedback("a"), limit=100_000)
    third = repair_request(second, "```python\ny = 2\n```", Feedback("b"), limit=3000)
    assert third[:2] == first and len(third) == 4 and "y = 2" in third[2].content
