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


def test_a_chart_image_the_plan_titles_must_have_a_title() -> None:
    from promptkiln.plan import Chart, OutputFile, Plan

    plan = Plan(
        files=[
            OutputFile(name="c.png", title="Temps", charts=[Chart(kind="line", title="Oslo")]),
            OutputFile(name="r.pdf", title="Report", charts=[Chart(kind="bar", title="Sales")]),
        ]
    )
    facts = {"c.png": {"kind": "png"}, "r.pdf": {"kind": "pdf", "text": "Report", "rows": []}}
    untitled = [_fig(), {**_fig(), "file": "r.pdf"}]
    found = {
        o.requirement.params["file"]: o for o in placeholder_outcomes(plan, facts, untitled, "")
    }
    assert not found["c.png"].met
    assert found["c.png"].detail == "it has no title; give it one (ax.set_title('Oslo'))"
    assert found["r.pdf"].met  # a chart in a document: the document's headings say what it is
    titled = placeholder_outcomes(plan, facts, [{**_fig(), "suptitle": "Oslo, 2024"}], "")
    assert all(o.met for o in titled)
    assert all(o.met for o in placeholder_outcomes(None, facts, [_fig()], ""))  # no plan, no rule
