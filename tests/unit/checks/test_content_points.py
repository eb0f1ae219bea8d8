"""Scatter plots and histograms judged by the rows they draw; the axes are shaped as the
chart-facts hook records them (the hook itself, in the real image, is tested in
tests/integration/test_content_checks.py)."""

from __future__ import annotations

from typing import Any

from promptkiln.checks.content_charts import check_chart
from promptkiln.checks.content_expected import Expected, Spec, specs_for
from promptkiln.plan import Plan

SCATTER = Spec("f0c0", "s.png", "chart", "scatter", "d.csv", "height", "weight", None, "none",
               "none")  # fmt: skip
HIST = Spec("f0c1", "h.png", "chart", "hist", "d.csv", None, "age", None, "count", "none",
            aggs=("count", "min", "max"))  # fmt: skip
PAIRS = [(150.0, 50.0), (160.0, 58.0), (170.0, 66.0), (180.0, 80.0)]
AGES = Expected(values={"count": 10, "min": 21, "max": 64})


def _scatter(points: list[tuple[float, float]]) -> list[dict[str, Any]]:
    return [{"title": "t", "scatter": [{"label": None, "points": [list(p) for p in points]}]}]


def _bins(edges: list[float], counts: list[float]) -> list[dict[str, Any]]:
    bars = [{"category": None, "pos": (a + b) / 2, "width": b - a, "value": c, "bottom": 0}
            for a, b, c in zip(edges, edges[1:], counts, strict=False)]  # fmt: skip
    return [{"title": "t", "bars": [{"label": None, "horizontal": False, "bars": bars}]}]


def test_the_plan_gives_a_histogram_its_column_and_a_scatter_plot_its_two() -> None:
    plan = Plan.model_validate({"files": [{"name": "a.png", "title": "A", "input": "d.csv",
        "charts": [{"kind": "hist", "title": "Ages", "x": "age"},
                   {"kind": "scatter", "title": "H/W", "x": "height", "y": "weight"}]}]})  # fmt: skip
    hist, scatter = specs_for(plan)
    assert (hist.kind, hist.y, hist.aggs) == ("hist", "age", ("count", "min", "max"))
    assert (scatter.x, scatter.y, scatter.agg) == ("height", "weight", "none")


def test_a_scatter_plot_of_the_rows_passes_in_either_orientation_and_as_a_subset() -> None:
    want = Expected(pairs=PAIRS)
    assert check_chart(SCATTER, want, _scatter(PAIRS)) is None
    assert check_chart(SCATTER, want, _scatter([(w, h) for h, w in PAIRS])) is None
    assert check_chart(SCATTER, want, _scatter(PAIRS[:2])) is None  # a filtered plot
    line = [{"title": "t", "lines": [{"label": None, "x": [150.0, 160.0], "y": [50.0, 58.0]}]}]
    assert check_chart(SCATTER, want, line) is None  # plt.plot(x, y, "o")


def test_a_scatter_plot_of_made_up_or_other_points_fails() -> None:
    want = Expected(pairs=PAIRS)
    problem = check_chart(SCATTER, want, _scatter([(150.0, 50.0), (1.0, 2.0)]))
    assert problem is not None
    assert problem.startswith("1 of its 2 points are not (height, weight) pairs of the input")
    assert check_chart(SCATTER, want, [{"title": "t"}]) == "no scatter chart was drawn"


def test_beyond_the_pairs_sent_only_the_columns_ranges_are_judged() -> None:
    want = Expected(pairs=PAIRS, pairs_all=False)
    assert check_chart(SCATTER, want, _scatter([(155.0, 61.0)])) is None  # a row not sent
    assert check_chart(SCATTER, want, _scatter([(155.0, 500.0)])) is not None


def test_a_scatter_plot_of_columns_that_are_not_numbers_is_not_judged() -> None:
    assert check_chart(SCATTER, Expected(values={"a": 1.0}), _scatter([(0.0, 9.0)])) is None


def test_a_histogram_of_every_value_passes_as_counts_or_as_a_density() -> None:
    assert check_chart(HIST, AGES, _bins([21, 35.3, 49.7, 64], [4, 3, 3])) is None
    wide = _bins([20, 30, 40, 50, 60, 70], [2, 3, 2, 2, 1])  # bins=range(20, 80, 10)
    assert check_chart(HIST, AGES, wide) is None
    density = _bins([21, 42.5, 64], [0.028, 0.0186])
    assert check_chart(HIST, AGES, density) is None


def test_a_bar_per_value_is_read_by_its_labels() -> None:
    # df["age"].value_counts().plot.bar(): bars at 0, 1, 2 named by the values
    bars = [{"category": str(v), "pos": float(i), "width": 0.5, "value": c, "bottom": 0}
            for i, (v, c) in enumerate([(21, 4), (40, 5), (64, 1)])]  # fmt: skip
    axes = [{"title": "t", "bars": [{"label": None, "horizontal": False, "bars": bars}]}]
    assert check_chart(HIST, AGES, axes) is None
    bars[2]["category"] = "99"
    assert "its bars are at 99, outside age's values (21 to 64)" in str(
        check_chart(HIST, AGES, axes)
    )


def test_a_histogram_of_a_sample_or_of_another_column_fails() -> None:
    sample = check_chart(HIST, AGES, _bins([21, 42.5, 64], [3, 2]))
    assert sample == (
        "its bars count 5 values, age has 10; draw the histogram of every value of age "
        "(ax.hist(df['age'].dropna()))"
    )
    salaries = check_chart(HIST, AGES, _bins([30000, 60000, 90000], [6, 4]))
    assert salaries is not None and salaries.startswith("its bins span 30000 to 90000")
    assert check_chart(HIST, AGES, [{"title": "t", "bars": []}]) == "no histogram was drawn"
