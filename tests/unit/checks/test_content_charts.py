"""A line chart's points in order: the axes are shaped as the chart-facts hook records them
(see tests/integration/test_content_checks.py for the hook itself, in the real image)."""

from __future__ import annotations

from typing import Any

import pytest

from promptkiln.checks.content_charts import check_chart
from promptkiln.checks.content_expected import Expected, Spec

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
VISITORS = [276, 461, 359, 504, 120, 166]
SPEC = Spec("f0c0", "v.png", "chart", "line", "monthly.csv", "month", "visitors", None, "none",
            "none")  # fmt: skip
EXPECTED = Expected(values=dict(zip(MONTHS, VISITORS, strict=True)), order=MONTHS, rows=6)


def _axes(xs: list[Any], ys: list[float]) -> list[dict[str, Any]]:
    return [{"title": "Visitors", "lines": [{"label": None, "x": xs, "y": ys}], "legend": []}]


def _alphabetical() -> tuple[list[str], list[float]]:
    pairs = sorted(zip(MONTHS, VISITORS, strict=True))
    return [m for m, _ in pairs], [float(v) for _, v in pairs]


def test_a_line_in_the_datas_order_passes_by_label_or_by_position() -> None:
    assert check_chart(SPEC, EXPECTED, _axes(MONTHS, VISITORS)) is None
    positions = [float(i) for i in range(6)]  # pandas' plot: positions, names on the ticks
    assert check_chart(SPEC, EXPECTED, _axes(positions, VISITORS)) is None


def test_a_line_through_the_months_sorted_alphabetically_fails() -> None:
    labels, values = _alphabetical()
    problem = check_chart(SPEC, EXPECTED, _axes(labels, values))
    assert problem is not None and problem.startswith("the line goes through Apr, Feb, Jan")
    by_position = check_chart(SPEC, EXPECTED, _axes([float(i) for i in range(6)], values))
    assert by_position is not None and "not the data's order (Jan, Feb, Mar" in by_position


@pytest.mark.parametrize(
    "labels",
    [["2024-03", "2024-01", "2024-02"], ["2023", "2021", "2022"], ["2024Q2", "2024Q1", "2024Q3"]],
)
def test_time_labels_may_be_drawn_in_time_order_whatever_the_rows_order(
    labels: list[str],
) -> None:
    values = [3.0, 1.0, 2.0]
    expected = Expected(values=dict(zip(labels, values, strict=True)), order=labels, rows=3)
    in_time = sorted(labels)
    ys = [expected.values[k] for k in in_time]
    assert check_chart(SPEC, expected, _axes(in_time, ys)) is None
    assert check_chart(SPEC, expected, _axes(labels, values)) is None
    backwards = in_time[::-1]
    problem = check_chart(SPEC, expected, _axes(backwards, [expected.values[k] for k in backwards]))
    assert problem is not None and "not the data's order" in problem


def test_a_planned_chart_image_no_savefig_wrote_is_not_delivered() -> None:
    from promptkiln.checks.content import check
    from promptkiln.checks.requirements import how_to_meet
    from promptkiln.plan import Plan

    plan = Plan.model_validate({"files": [{"name": "v.png", "title": "Visitors", "charts": [
        {"kind": "line", "title": "Visitors", "x": "month", "y": "visitors"}]}]})  # fmt: skip
    facts = {"v.png": {"kind": "png", "width": 800, "height": 500}}
    expected = {SPEC.id: EXPECTED}
    # the hook ran and no figure was saved as v.png (a canvas printed by hand): unmet
    [unrecorded] = [o for o in check(plan, [SPEC], expected, facts, [], "") if not o.met]
    assert (
        unrecorded.detail == "no matplotlib figure was saved as v.png, so what it draws is unknown"
    )
    assert "fig.savefig(path)" in how_to_meet(unrecorded.requirement, ["png"])
    # a backend that cannot tell (no hook): nothing is claimed either way
    assert [o for o in check(plan, [SPEC], expected, facts, None, "") if "saved" in o.detail] == []
    drawn = [{"file": "v.png", "axes": _axes(MONTHS, VISITORS)}]
    assert all(o.met for o in check(plan, [SPEC], expected, facts, drawn, ""))
