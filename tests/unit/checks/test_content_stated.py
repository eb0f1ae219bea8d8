"""A chart of the request's own numbers draws them: the pairs read from requests, and the
outcome on axes shaped as the chart-facts hook records them (the hook itself is tested in the
real image, tests/integration/test_content_checks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from promptkiln.checks.content_stated import stated_outcomes, stated_pairs

TWO = "Make two charts of this data: Jan 10, Feb 12, Mar 9, Apr 15 - a bar chart and a line chart"


@pytest.mark.parametrize(
    ("prompt", "pairs"),
    [
        (TWO, [("Jan", 10, 10), ("Feb", 12, 12), ("Mar", 9, 9), ("Apr", 15, 15)]),
        ("Bar chart: Q1=2.1M, Q2=2.8M, titled 'Top 5 of 2024'", [("Q1", 2.1, 2.1e6), ("Q2", 2.8, 2.8e6)]),
        ("Pie chart of share (Alpha 40%, Beta 35%)", [("Alpha", 40, 40), ("Beta", 35, 35)]),
        ("A chart of apples: 30, bananas: 45, 800x600 pixels, in 2024", [("apples", 30, 30), ("bananas", 45, 45)]),
        ("North $1,200 and South $900K in a bar chart", [("North", 1200, 1200), ("South", 900, 9e5)]),
        ("Histogram of score with 10 bins, 800x400 pixels", []),
        ("A bar chart of Alice's 30 and Bob's 45, titled 'Top 3'", [("Alice's", 30, 30), ("Bob's", 45, 45)]),
    ],
)  # fmt: skip
def test_the_label_number_pairs_of_a_request(
    prompt: str, pairs: list[tuple[str, float, float]]
) -> None:
    assert stated_pairs(prompt) == pairs


def _figure(name: str, bars: list[float] = (), line: list[float] = (), pie: list[float] = ()) -> dict[str, Any]:  # type: ignore[assignment]  # fmt: skip
    ax = {
        "title": "T",
        "bars": [{"label": None, "bars": [{"category": f"c{i}", "pos": float(i), "value": v}
                                          for i, v in enumerate(bars)]}] if bars else [],
        "lines": [{"label": None, "x": list(range(len(line))), "y": list(line)}] if line else [],
        "wedges": [{"label": f"w{i}", "fraction": f} for i, f in enumerate(pie)],
    }  # fmt: skip
    return {"file": name, "axes": [ax]}


FACTS = {"bar.png": {"kind": "png"}, "line.png": {"kind": "png"}}


def test_charts_that_draw_the_stated_numbers_pass() -> None:
    figures = [_figure("bar.png", bars=[10, 12, 9, 15]), _figure("line.png", line=[10, 12, 9, 15])]
    [outcome] = stated_outcomes(TWO, FACTS, figures)
    assert outcome.met, outcome.detail
    millions = [_figure("bar.png", bars=[2_100_000, 2_800_000])]
    assert stated_outcomes("Bar chart: Q1=2.1M, Q2=2.8M", {"bar.png": {}}, millions)[0].met
    shares = [_figure("pie.png", pie=[0.4, 0.6])]
    assert stated_outcomes("Pie chart: apples 30, pears 45", {"pie.png": {}}, shares)[0].met


def test_charts_of_other_numbers_fail_and_say_which() -> None:
    figures = [_figure("bar.png", bars=[100, 120, 90, 150]), _figure("line.png", line=[100, 120, 90, 150])]  # fmt: skip
    [outcome] = stated_outcomes(TWO, FACTS, figures)
    assert not outcome.met
    assert outcome.detail.startswith("no chart draws Jan 10, Feb 12, Mar 9, Apr 15; they draw 100")


def test_nothing_to_check_without_pairs_a_chart_request_or_chart_facts() -> None:
    figures = [_figure("bar.png", bars=[1, 2])]
    assert stated_outcomes("A bar chart of the CSV", FACTS, figures) == []
    assert stated_outcomes("A table of Jan 10, Feb 12", FACTS, figures) == []
    assert stated_outcomes(TWO, FACTS, []) == []


def test_the_one_chart_kind_the_request_names_is_drawn() -> None:
    from promptkiln.checks.content_stated import kind_outcomes

    bars = [_figure("c.png", bars=[2.1, 2.8])]
    pie = [_figure("c.png", pie=[0.4, 0.6])]
    facts = {"c.png": {"kind": "png"}}
    [wrong] = kind_outcomes("Now show it as a pie chart, and the data as a CSV", facts, bars)
    assert not wrong.met and wrong.detail == "the charts draw bar charts, not a pie chart"
    assert kind_outcomes("Now show it as a pie chart", facts, pie)[0].met
    assert kind_outcomes("a bar chart of revenue", facts, bars)[0].met
    # two kinds named, no kind named, or no chart facts: nothing to judge
    assert kind_outcomes("a bar chart and a line chart", facts, bars) == []
    assert kind_outcomes("a chart of revenue", facts, bars) == []
    assert kind_outcomes("a pie chart", facts, []) == []
