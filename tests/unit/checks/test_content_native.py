"""Native PowerPoint charts (python-pptx chart data) are judged by the same chart checks:
a right chart passes, the wrong aggregation and a placeholder title fail."""

from __future__ import annotations

from pathlib import Path

from promptkiln.checks.content import check
from promptkiln.checks.content_expected import Expected, specs_for
from promptkiln.checks.facts import file_facts
from promptkiln.plan import Chart, OutputFile, Plan

PLAN = Plan(files=[OutputFile(name="deck.pptx", title="Revenue", input="sales.csv", charts=[
    Chart(kind="bar", title="Revenue per region", x="region", y="revenue", agg="sum")])])  # fmt: skip
EXPECTED = {"f0c0": Expected(values={"East": 3400.0, "West": 1200.0}, order=["East", "West"])}


def _deck(path: Path, values: list[float], title: str) -> None:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Revenue per region"
    data = CategoryChartData()
    data.categories = ["East", "West"]
    data.add_series("Revenue", values)
    shape = slide.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1.5), Inches(8), Inches(5), data
    )
    shape.chart.has_title = True
    shape.chart.chart_title.text_frame.text = title
    prs.save(str(path))


def _outcomes(tmp_path: Path, values: list[float], title: str) -> dict[str, tuple[bool, str]]:
    path = tmp_path / "deck.pptx"
    _deck(path, values, title)
    facts = {"deck.pptx": file_facts(path, "pptx")}
    found = check(PLAN, specs_for(PLAN), EXPECTED, facts, [], "revenue per region")
    return {o.requirement.params.get("check", "data"): (o.met, o.detail) for o in found}


def test_native_chart_right_and_wrong(tmp_path: Path) -> None:
    assert _outcomes(tmp_path, [3400, 1200], "Revenue per region") == {
        "data": (True, ""), "placeholders": (True, "")
    }  # fmt: skip
    wrong = _outcomes(tmp_path, [1700, 600], "Chart title")
    assert wrong["data"] == (False, "it shows East=1700, West=600 (expected East=3400, West=1200)")
    assert not wrong["placeholders"][0]
    assert "its chart's title is 'Chart title'" in wrong["placeholders"][1]


def test_numbers_the_request_states_are_checked_the_same_way(tmp_path: Path) -> None:
    from promptkiln.checks.content_expected import pending

    plan = Plan(files=[OutputFile(name="deck.pptx", title="Revenue", charts=[
        Chart(kind="bar", title="Revenue", values={"East": 3400, "West": 1200})])])  # fmt: skip
    specs = specs_for(plan)
    expected, todo = pending(specs)  # stated: nothing to compute in a sandbox
    assert todo == [] and expected["f0c0"].values == {"East": 3400, "West": 1200}
    path = tmp_path / "deck.pptx"
    for values, met in (([3400, 1200], True), ([3400, 1300], False)):
        _deck(path, values, "Revenue per region")
        facts = {"deck.pptx": file_facts(path, "pptx")}
        found = check(plan, specs, expected, facts, [], "East 3400, West 1200")
        assert [o.met for o in found if o.requirement.params.get("spec")] == [met]
