"""Only true placeholders fail: the whole title or label is a stand-in word that neither the
request nor the inputs use."""

from __future__ import annotations

from typing import Any

import pytest

from promptkiln.checks.placeholders import placeholder_outcomes


def _fig(**axes: Any) -> dict[str, Any]:
    return {"file": "c.png", "suptitle": "", "axes": [{"title": "", "legend": [], **axes}]}


@pytest.mark.parametrize(
    ("axes", "prompt", "known", "detail"),
    [
        ({"title": "Title"}, "a chart of sales", [], "its chart's title is 'Title'"),
        ({"ylabel": "Y"}, "a chart of sales", [], "its chart's y-axis label is 'Y'"),
        ({"legend": ["Series 1"]}, "sales", [], "its legend says 'Series 1'"),
        ({"title": "Sales by value band"}, "sales", [], ""),  # only the whole title counts
        ({"ylabel": "Value"}, "sales", ["value"], ""),  # an input column
        ({"xlabel": "x", "ylabel": "y"}, "plot y = x squared", [], ""),  # the request's words
    ],
)
def test_chart_placeholders(
    axes: dict[str, Any], prompt: str, known: list[str], detail: str
) -> None:
    facts = {"c.png": {"kind": "png"}}
    [outcome] = placeholder_outcomes(None, facts, [_fig(**axes)], prompt, known)
    assert (outcome.met, outcome.detail) == (not detail, detail)


def test_a_document_line_that_is_only_a_placeholder_but_not_a_table_header() -> None:
    facts = {
        "r.docx": {"kind": "docx", "text": "Title\nQ1 report", "rows": []},
        "books.docx": {
            "kind": "docx",
            "text": "Title\nAuthor\nDune",
            "rows": [["Title", "Author"]],
        },
    }
    found = {o.requirement.params["file"]: o for o in placeholder_outcomes(None, facts, [], "")}
    assert found["r.docx"].detail == "a line says only 'Title'" and not found["r.docx"].met
    assert found["books.docx"].met
