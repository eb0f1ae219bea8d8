"""The plan's schema and its checks against a profile: columns exist (and are normalised to
their real names), the aggregation fits the column, series are few, formats and counts match."""

from __future__ import annotations

import json

import pytest

from promptkiln.checks.plan_check import check_plan
from promptkiln.checks.profile import parse, render_profile
from promptkiln.llm.plan import compact, describe, parse_plan, response_format
from promptkiln.plan import Chart, ColumnProfile, InputProfile, OutputFile, Plan, Profile, Table
from promptkiln.plan import TableProfile as TP

SALES = Profile(
    inputs=[
        InputProfile(
            file="sales.csv",
            kind="table",
            tables=[
                TP(
                    name="sales.csv",
                    rows=48,
                    columns=[
                        ColumnProfile(name="Region", dtype="text", distinct=4,
                                      values={"North": 12, "South": 12, "East": 12, "West": 12}),
                        ColumnProfile(name="order_id", dtype="text", distinct=48),
                        ColumnProfile(name="Month", dtype="date", distinct=12,
                                      first="2024-01-01", last="2024-12-01"),
                        ColumnProfile(name="Revenue", dtype="number", distinct=48, min=10, max=90),
                        ColumnProfile(name="Unit price", dtype="number", distinct=9),
                    ],
                )
            ],
        )
    ]
)  # fmt: skip


def bar(source: str | None = "sales.csv", **fields: object) -> Plan:
    chart = {"kind": "bar", "title": "Revenue by region", "x": "Region", "y": "Revenue",
             "agg": "sum", **fields}  # fmt: skip
    file = {"name": "chart.png", "title": "Revenue", "input": source, "charts": [chart]}
    return Plan.model_validate({"files": [file]})


def test_a_right_plan_passes_and_its_column_names_become_the_real_ones() -> None:
    plan = bar(x=" region", y="REVENUE", sort="desc")
    checked = check_plan(plan, SALES, ["png"], "revenue per region, highest first")
    assert checked.ok, checked.problems
    chart = checked.plan.files[0].charts[0]
    assert (chart.x, chart.y, chart.agg, chart.sort) == ("Region", "Revenue", "sum", "desc")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"y": "profit"}, "y column 'profit' is not in the input; its columns are: Region"),
        ({"y": "Region"}, "the sum of 'Region' is wrong, it is a text column"),
        ({"agg": "mean", "y": "order_id"}, "the mean of 'order_id' is wrong"),
        ({"agg": "none"}, "'Region' has 4 distinct values in 48 rows"),
        (
            {"kind": "line", "x": "Month", "series": "order_id"},
            "series 'order_id' has a different value on every row, so each row is drawn as a "
            "series of its own",
        ),
        ({"title": "Chart title"}, "the title 'Chart title' is a placeholder"),
        ({"x": None, "y": None}, "name its input columns (x, y) or give its values"),
        (
            {"kind": "barh", "x": "Revenue", "y": None, "agg": "count"},
            "x 'Revenue' is a number column with 48 values, so counting rows per value gives "
            "one bar per number; to show Revenue per label, make x a label column (Region, "
            "order_id) and y 'Revenue'",
        ),
        ({"kind": "line", "x": "Month", "sort": "desc"}, "sorting it by value scrambles that"),
    ],
)
def test_a_wrong_plan_gets_the_specific_problem(fields: dict[str, object], problem: str) -> None:
    checked = check_plan(bar(**fields), SALES, ["png"], "a chart, highest first")
    assert any(problem in p for p in checked.problems), checked.problems


@pytest.mark.parametrize(
    ("fields", "x"),
    [
        ({"kind": "line", "series": "region"}, "Region"),  # the x axis again: one point each
        ({"kind": "pie", "series": "Month"}, "Region"),  # a pie has one ring: its labels are x
        ({"kind": "pie", "x": None, "series": "region"}, "Region"),  # labels given as series
    ],
)
def test_a_series_that_draws_nothing_of_its_own_is_taken_out(
    fields: dict[str, object], x: str
) -> None:
    checked = check_plan(bar(**fields), SALES, ["png"], "a chart of revenue")
    assert checked.ok, checked.problems
    chart = checked.plan.files[0].charts[0]
    assert (chart.x, chart.series, chart.y, chart.agg) == (x, None, "Revenue", "sum")


@pytest.mark.parametrize(
    ("prompt", "agg", "problem"),
    [
        ("a bar chart of the average revenue per region", "sum", "asks for the average"),
        ("a bar chart of the average revenue per region", "mean", None),
        ("the mean and the total of revenue per region", "mean", "asks for the total"),
        ("the total number of orders per region", "count", None),  # a count, not a sum
        ("the median revenue for each region", "max", "asks for the median"),
        ("a bar chart of revenue per region", "mean", None),  # no aggregation named
    ],
)
def test_an_aggregation_the_request_names_is_the_plans(
    prompt: str, agg: str, problem: str | None
) -> None:
    checked = check_plan(bar(agg=agg), SALES, ["png"], prompt)
    found = [p for p in checked.data_problems if "the request asks for the" in p]
    if problem is None:
        assert found == [], found
    else:
        assert len(found) == 1 and problem in found[0], checked.data_problems


def test_named_statistics_planned_as_a_listing_are_sent_back_except_in_a_workbook() -> None:
    listing = Table(columns=["Region", "Revenue"])
    plan = Plan(
        files=[OutputFile(name="r.pdf", title="Stats", input="sales.csv", tables=[listing])]
    )
    prompt = "a PDF with the count, mean and max of revenue"
    [problem] = check_plan(plan, SALES, ["pdf"], prompt).data_problems
    assert problem.startswith("the request asks for the average, and the plan's charts and "
                              "tables combine no rows")  # fmt: skip
    book = Plan(files=[OutputFile(name="r.xlsx", title="S", input="sales.csv", tables=[listing])])
    assert check_plan(book, SALES, ["xlsx"], "the rows and an Average formula column").ok


@pytest.mark.parametrize(
    ("prompt", "agg", "y", "problem"),
    [
        ("a pie chart of the share of responses by region", "sum", "Revenue", "number of responses"),
        ("a pie chart of the share of responses by region", "count", None, None),
        ("how many orders per region, as bars", "mean", "Revenue", "number of orders"),
        ("the share of revenue per region", "sum", "Revenue", None),  # a column: its values
        ("the number of units per region", "sum", "Revenue", None),  # an amount, not records
    ],
)  # fmt: skip
def test_the_number_or_share_of_records_is_a_count(
    prompt: str, agg: str, y: str | None, problem: str | None
) -> None:
    checked = check_plan(bar(kind="pie", agg=agg, y=y), SALES, ["png"], prompt)
    found = [p for p in checked.data_problems if "is no column: that counts rows" in p]
    assert found == ([] if problem is None else [found[0]]) and (
        problem is None or problem in found[0]
    ), checked.data_problems


def test_a_series_groups_rows_and_stays_readable() -> None:
    stores = Profile(inputs=[InputProfile(file="s.csv", kind="table", tables=[TP(
        name="s.csv", rows=100, columns=[
            ColumnProfile(name="day", dtype="date", distinct=5),
            ColumnProfile(name="store", dtype="text", distinct=20),
            ColumnProfile(name="sales", dtype="number", distinct=100)])])])  # fmt: skip
    line = bar("s.csv", kind="line", x="day", y="sales", series="store")
    assert any("'store' has 20 distinct values, too many series" in p
               for p in check_plan(line, stores, ["png"]).data_problems)  # fmt: skip
    per_row = bar("s.csv", kind="line", x="day", y="store", series="sales", agg="count")
    assert any("series 'sales' has a different value on every row" in p
               for p in check_plan(per_row, stores, ["png"]).data_problems)  # fmt: skip


def test_count_works_on_any_column_and_a_line_per_city_is_fine() -> None:
    assert check_plan(bar(agg="count", y="order_id"), SALES, ["png"]).ok
    assert check_plan(bar(agg="count", y=None), SALES, ["png"]).ok
    line = bar(kind="line", x="Month", y="Revenue", series="Region", agg="sum")
    assert check_plan(line, SALES, ["png"]).ok


def test_a_table_of_rows_counted_per_number_is_a_data_problem() -> None:
    counted = Plan(files=[OutputFile(name="t.csv", title="Top", input="sales.csv", tables=[
        Table(columns=["Region", "Revenue"], group="Revenue", agg="count")])])  # fmt: skip
    checked = check_plan(counted, SALES, ["csv"], "the regions by revenue")
    assert checked.data_problems == [
        "t.csv, table: group 'Revenue' is a number column with 48 values, so counting rows per "
        "value gives one row per number; to show Revenue per label, make group a label column "
        "(Region, order_id) and value 'Revenue'"
    ]
    per_region = Table(columns=["Region", "n"], group="Region", agg="count")
    fine = Plan(files=[OutputFile(name="t.csv", title="N", input="sales.csv", tables=[per_region])])
    assert check_plan(fine, SALES, ["csv"], "the number of orders per region").ok


def test_tables_group_and_value_are_checked_and_listed_columns_normalised() -> None:
    table = Table(columns=["region", "Total revenue"], group="region", value="revenue", agg="sum")
    plan = Plan(files=[OutputFile(name="r.pdf", title="Sales", tables=[table])])
    checked = check_plan(plan, SALES, ["pdf"])
    assert checked.ok, checked.problems
    assert checked.plan.files[0].tables[0].columns == ["Region", "Total revenue"]
    wrong = Table(columns=["Region"], group="Region", value="Region", agg="mean")
    bad = check_plan(
        Plan(files=[OutputFile(name="r.pdf", title="S", tables=[wrong])]), SALES, ["pdf"]
    )
    assert any("the mean of 'Region' is wrong" in p for p in bad.problems)


def test_formats_and_stated_counts() -> None:
    plan = Plan(files=[OutputFile(name="deck.pdf", title="Plans", sections=["A", "B"])])
    problems = check_plan(plan, None, ["pptx"], "a 3-slide deck").problems
    assert any(".pdf was not asked for" in p for p in problems)
    assert any("no file in the plan is a .pptx" in p for p in problems)
    deck = Plan(files=[OutputFile(name="deck.pptx", title="Plans", sections=["A", "B"])])
    problems = check_plan(deck, None, ["pptx"], "a 3-slide deck").problems
    assert problems == [
        "deck.pptx: the request asks for 3 slides, the plan lists 2 sections; list the 3 titles"
    ]
    # a file of a format not asked for, beside one that is, is said and left out of the plan
    named = deck.files[0].model_copy(update={"input": "none"})
    both = Plan(files=[named, OutputFile(name="notes.txt", title="Notes")])
    checked = check_plan(both, None, ["pptx"], "a deck with two slides")
    assert any("notes.txt: .txt was not asked for" in p for p in checked.problems)
    assert [f.name for f in checked.plan.files] == ["deck.pptx"]
    assert checked.plan.files[0].input is None  # no input file: none is named
    book = Plan(files=[OutputFile(name="b.xlsx", title="Budget", sections=["2024", "2025"])])
    assert check_plan(book, None, ["xlsx"], "a workbook with two sheets").ok
    assert not check_plan(book, None, ["xlsx"], "a workbook with 3 sheets").ok


def test_without_inputs_the_names_of_x_and_series_are_the_models_own() -> None:
    chart = bar(x="quarter", y="revenue", series="quarter", source=None)
    assert check_plan(chart, None, ["png"], "revenue: Q1 2.1, Q2 2.8").data_problems == []


def test_without_inputs_a_chart_takes_the_requests_values() -> None:
    from promptkiln.llm.plan import script_request

    chart = Chart(kind="pie", title="Budget split", values={"Rent": 40, "Food": 25.5})
    plan = Plan(files=[OutputFile(name="c.png", title="Budget", charts=[chart])])
    assert check_plan(plan, None, ["png"]).ok
    assert script_request(plan).content.splitlines()[1] == (
        '- c.png, pie chart \'Budget split\': labels, values = ["Rent", "Food"], [40.0, 25.5]; '
        'draw: ax.pie(values, labels=labels, autopct="%1.1f%%")'
    )


@pytest.mark.parametrize(
    ("prompt", "values", "ok"),
    [
        ("Bar chart of this data: Jan 10, Feb 12, Mar 9", {"Jan": 10, "Feb": 12, "Mar": 9}, True),
        ("Bar chart of this data: Jan 10, Feb 12, Mar 9", {"Jan": 100, "Feb": 120, "Mar": 9}, False),
        ("Bar chart of revenue: Q1=2.1M, Q2=2.8M", {"Q1": 2_100_000, "Q2": 2.8}, True),
        ("Pie chart of share: Alpha 40%, Beta 60%", {"Alpha": 0.4, "Beta": 0.6}, True),
        ("A chart of three made-up numbers", {"a": 1, "b": 7}, True),  # nothing stated
    ],
)  # fmt: skip
def test_without_inputs_the_values_are_the_ones_the_request_states(
    prompt: str, values: dict[str, float], ok: bool
) -> None:
    chart = Chart(kind="bar", title="Data", values=values)
    plan = Plan(files=[OutputFile(name="c.png", title="Data", charts=[chart])])
    checked = check_plan(plan, None, ["png"], prompt)
    assert checked.ok is ok, checked.problems
    if not ok:
        assert checked.data_problems == [
            "c.png, chart 'Data': the values of Jan, Feb are not in the request; use exactly "
            "the numbers the request states"
        ]


def test_without_inputs_one_chart_without_values_takes_the_requests_pairs() -> None:
    chart = Chart(kind="bar", title="Revenue", x="quarter", y="revenue")
    plan = Plan(files=[OutputFile(name="c.png", title="Revenue", charts=[chart])])
    prompt = "Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M"
    checked = check_plan(plan, None, ["png"], prompt)
    assert checked.ok, checked.problems  # no round back to the model for them
    assert checked.plan.files[0].charts[0].values == {"Q1": 2.1, "Q2": 2.8, "Q3": 3.2}
    # no pairs stated, or two charts to share them: the model is asked
    assert not check_plan(plan, None, ["png"], "a bar chart of revenue").ok
    two = Plan(files=[OutputFile(name="c.png", title="R", charts=[chart, chart])])
    assert not check_plan(two, None, ["png"], prompt).ok


def test_the_plan_schema_is_strict_and_round_trips() -> None:
    schema = response_format()["json_schema"]["schema"]
    assert schema["required"] == ["files"]
    text = '```json\n{"files": [{"name": "a.png", "title": "T1", "charts": [{"kind": "bar", ' \
        '"title": "Units", "x": "Region", "agg": "count"}]}]}\n```'  # fmt: skip
    plan = parse_plan(text)
    assert plan.files[0].charts[0].agg == "count"
    assert json.loads(compact(plan)) == {
        "files": [{"name": "a.png", "title": "T1",
                   "charts": [{"kind": "bar", "title": "Units", "x": "Region", "agg": "count"}]}]
    }  # fmt: skip
    assert describe(plan) == "a.png: bar Region (count)"
    for bad in ('{"files": [{"name": "a.png"}]}', '{"files": [], "extra": 1}',
                '{"files": [{"name": "a", "title": "t", "charts": [{"kind": "donut", "title": "x"}]}]}',
                "no json here"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_plan(bad)


def test_the_profile_is_validated_and_rendered_compactly() -> None:
    line = SALES.model_dump_json(exclude_defaults=True).encode()
    assert parse(b"noise\n" + line) == SALES
    assert isinstance(parse(b'{"inputs": [{"file": 1}]}'), str)
    assert isinstance(parse(b"x" * 60_000), str)
    text = render_profile(SALES)
    assert text.splitlines()[:2] == [
        "- inputs/sales.csv: 48 rows, columns:",
        "  Region (text; 4 values: North 12, South 12, East 12, West 12)",
    ]
    assert "  Revenue (number 10..90, mean ?)" in text
    assert "  Month (date 2024-01-01..2024-12-01)" in text
    broken = Profile(inputs=[InputProfile(file="x.xlsx", kind="other", error="BadZipFile: no")])
    assert render_profile(broken) == "- inputs/x.xlsx: could not be read (BadZipFile: no)"


def test_the_checked_plan_becomes_pandas_for_the_script_request() -> None:
    from promptkiln.llm.plan import script_request

    line = bar(kind="line", x="month", y="revenue", series="region", agg="sum", source=None)
    plan = check_plan(line, SALES, ["png"]).plan
    assert plan.files[0].input == "sales.csv"  # the one input, named for the script
    totals = check_plan(bar(sort="desc"), SALES, ["png"]).plan
    counted = Table(columns=["Region", "orders"], group="Region", agg="count", sort="asc")
    letter = OutputFile(name="letter.pdf", title="Dear Ann")
    report = OutputFile(name="r.pdf", title="Sales", input="sales.csv", tables=[counted])
    both = check_plan(Plan(files=[letter, report]), SALES, ["pdf"]).plan
    assert script_request(plan).content.splitlines()[:3] == [
        "The plan as code:",
        '- df = pd.read_csv("inputs/sales.csv")',
        "- chart.png, line chart 'Revenue by region': table = df.pivot_table(index=\"Month\", "
        'columns="Region", values="Revenue", aggfunc="sum", sort=False); '
        'draw: table.plot(ax=ax, marker="o")',
    ]
    unsorted = script_request(check_plan(bar(), SALES, ["png"]).plan).content
    assert 's = df.groupby("Region", sort=False)["Revenue"].agg("sum"); labels' in unsorted
    assert '.agg("sum").sort_values(ascending=False)' in script_request(totals).content, (
        script_request(totals).content
    )
    text = script_request(both, ["a problem"]).content
    assert "- letter.pdf: no chart and no table" in text
    assert (
        '- r.pdf, table: data = df.groupby("Region").size().sort_values(ascending=True)'
        ".reset_index(); header, rows = [str(c) for c in data.columns], data.values.tolist()"
    ) in text  # a document's table is cells, named as the format notes name them
    as_csv = report.model_copy(update={"name": "r.csv"})
    csv = script_request(check_plan(Plan(files=[as_csv]), SALES, ["csv"]).plan).content
    assert '- r.csv, table: table = df.groupby("Region").size()' in csv  # table.to_csv(...)
    assert "Problems left in the plan (avoid them in the script):\n- a problem" in text


def test_statistics_of_a_column_and_one_figure() -> None:
    from promptkiln.llm.plan_code import table_expr

    stats = Table(columns=["statistic", "value"], value="revenue", aggs=["count", "mean", "max"])
    total = Table(columns=["total"], value="Revenue", agg="sum")
    plan = Plan(files=[OutputFile(name="s.pdf", title="Sales", tables=[stats, total])])
    checked = check_plan(plan, SALES, ["pdf"])
    assert checked.ok, checked.problems
    first, second = checked.plan.files[0].tables
    assert table_expr(first) == 'df["Revenue"].agg(["count", "mean", "max"])'
    assert table_expr(second) == 'df["Revenue"].agg("sum")'
    wrong = stats.model_copy(update={"value": "region"})
    problems = check_plan(Plan(files=[OutputFile(name="s.pdf", title="S", tables=[wrong])]), SALES,
                          ["pdf"]).problems  # fmt: skip
    assert any("the mean of 'Region' is wrong" in p for p in problems)


def test_wide_data_draws_several_value_columns() -> None:
    from promptkiln.llm.plan_code import chart_expr

    wide = Profile(
        inputs=[InputProfile(file="q.csv", kind="table", tables=[TP(name="q.csv", rows=4, columns=[
            ColumnProfile(name="region", dtype="text", distinct=4),
            *(ColumnProfile(name=f"q{i}", dtype="integer", distinct=4) for i in range(1, 5)),
        ])])]
    )  # fmt: skip
    chart = Chart(kind="grouped_bar", title="Quarters", x="Region", ys=["Q1", "q2", "q3", "q4"])
    plan = Plan(files=[OutputFile(name="q.png", title="Q", charts=[chart])])
    checked = check_plan(plan, wide, ["png"])
    assert checked.ok, checked.problems
    drawn = checked.plan.files[0].charts[0]
    assert drawn.ys == ["q1", "q2", "q3", "q4"]
    assert chart_expr(drawn) == 'df.set_index("region")[["q1", "q2", "q3", "q4"]]'
    bad = chart.model_copy(update={"ys": ["region", "q9"]})
    problems = check_plan(Plan(files=[OutputFile(name="q.png", title="Q", charts=[bad])]), wide,
                          ["png"]).problems  # fmt: skip
    assert any("ys column 'region' is text, not numbers" in p for p in problems)
    assert any("ys column 'q9' is not in the input" in p for p in problems)


def test_y_with_ys_draws_them_all_and_a_limit_keeps_the_top() -> None:
    from promptkiln.llm.plan import describe
    from promptkiln.llm.plan_code import chart_code

    both = bar(kind="grouped_bar", y="Revenue", ys=["order_id"], agg="count")
    chart = check_plan(both, SALES, ["png"]).plan.files[0].charts[0]
    assert (chart.y, chart.ys) == (None, ["Revenue", "order_id"])
    top = check_plan(bar(kind="barh", sort="desc", limit=3), SALES, ["png"]).plan
    assert chart_code(top.files[0].charts[0]) == (
        's = df.groupby("Region")["Revenue"].agg("sum").sort_values(ascending=False).head(3); '
        "labels, values = s.index.tolist(), s.values.tolist()"
    )
    assert describe(top) == "chart.png: barh Region x Revenue (sum, desc, top 3)"
    assert any("limit 0 shows nothing" in p for p in check_plan(bar(limit=0), SALES, []).problems)


def test_a_listing_of_rows_names_only_input_columns() -> None:
    listing = Table(columns=["region", "total"])
    plan = Plan(files=[OutputFile(name="r.csv", title="Totals", tables=[listing])])
    [problem] = check_plan(plan, SALES, ["csv"]).problems
    assert problem.startswith("r.csv, table: 'total' not in the input (its columns: Region,")
    assert problem.endswith("a computed column needs group, value and agg (one row per group)")
    grouped = Table(columns=["region", "total"], group="region", value="revenue", agg="sum")
    assert check_plan(Plan(files=[OutputFile(name="r.csv", title="T", tables=[grouped])]), SALES,
                      ["csv"]).ok  # fmt: skip


def test_a_value_computed_from_number_columns_is_checked_and_becomes_a_column() -> None:
    from promptkiln.llm.plan import script_request

    checked = check_plan(bar(y="revenue/unit_price", sort="desc"), SALES, ["png"])
    assert checked.ok, checked.problems
    assert checked.plan.files[0].charts[0].y == "Revenue / Unit price"
    lines = script_request(checked.plan).content.splitlines()
    assert lines[2] == '- df["Revenue / Unit price"] = df["Revenue"] / df["Unit price"]'
    assert 'df.groupby("Region")["Revenue / Unit price"].agg("sum")' in lines[3]
    wrong = check_plan(bar(y="(revenue - 1) * region"), SALES, ["png"]).problems
    assert any("computes with 'Region', a text column" in p for p in wrong), wrong
    unknown = check_plan(bar(y="revenue * units"), SALES, ["png"]).problems
    assert any("y column 'units' is not in the input" in p for p in unknown), unknown


@pytest.mark.parametrize(
    ("prompt", "kind", "named"),
    [
        ("a pie chart of revenue by region", "bar", "pie"),
        ("plot revenue over the months, one line per region", "bar", "line"),
        ("revenue by region as a line graph", "pie", "line"),
        ("a histogram of the revenue", "bar", "histogram"),
        ("revenue by region as horizontal bars", "pie", "bar"),
    ],
)
def test_a_chart_kind_the_request_names_must_be_in_the_plan(
    prompt: str, kind: str, named: str
) -> None:
    # one chart: set to the kind the request names, no round back to the model
    [chart] = check_plan(bar(kind=kind), SALES, ["png"], prompt).plan.files[0].charts
    assert chart.kind == {"histogram": "hist"}.get(named, named) + (
        "h" if "horizontal" in prompt else ""
    )
    # two charts, neither of that kind: the model is asked, and left unfixed it is a data problem
    two = bar(kind=kind)
    file = two.files[0]
    two = Plan(files=[file.model_copy(update={"charts": [*file.charts, *file.charts]})])
    checked = check_plan(two, SALES, ["png"], prompt)
    assert any(f"asks for a {named} chart" in p for p in checked.data_problems), checked
    assert check_plan(bar(kind="barh" if named == "bar" else kind), SALES, ["png"], "a chart").ok


def test_words_that_are_no_chart_kind_ask_for_none() -> None:
    invoice = "an invoice PDF with one line per item and the total at the bottom"
    assert check_plan(bar(), SALES, ["pdf"], invoice).data_problems == []
    assert (
        check_plan(bar(), SALES, ["csv"], "totals by region, for a pie chart later").data_problems
        == []
    )
    chocolate = "sales of chocolate bars by month as a line chart"
    assert check_plan(bar(kind="line", x="Month"), SALES, ["png"], chocolate).ok


def test_values_the_request_does_not_state_are_made_up_when_an_input_holds_the_data() -> None:
    made_up = bar(x=None, y=None, agg="none", values={"North": 120.0, "South": 80.0})
    problems = check_plan(made_up, SALES, ["png"], "revenue by region").data_problems
    assert any("the values of North, South are not in the request" in p for p in problems)
    stated = "a bar chart: North 1,200 and South 80"
    values = bar(x=None, y=None, agg="none", values={"North": 1200.0, "South": 80.0})
    assert check_plan(values, SALES, ["png"], stated).ok
    assert check_plan(values, None, ["png"], "a bar chart of some sample numbers").ok


def test_only_problems_about_the_data_make_the_result_unmet() -> None:
    from promptkiln.making.plan_step import Prepared, unmet_plan

    checked = check_plan(bar(agg="none", title="Sales"), SALES, ["pdf"], "a report")
    assert any(".png was not asked for" in p for p in checked.problems)  # checked on the files
    assert not any("not asked for" in p for p in checked.data_problems)
    assert any("distinct values" in p for p in checked.data_problems)
    prepared = Prepared([], plan=checked.plan, data_problems=checked.data_problems)
    [outcome] = unmet_plan(prepared)
    assert not outcome.met and outcome.requirement.kind == "plan"
    assert "distinct values in 48 rows" in outcome.detail


def test_wide_data_is_read_across_each_row() -> None:
    from promptkiln.llm.plan import script_request

    wide = Profile(inputs=[InputProfile(file="q.csv", kind="table", tables=[TP(
        name="q.csv", rows=4, columns=[
            ColumnProfile(name="Region", dtype="text", distinct=4),
            *(ColumnProfile(name=f"Q{i}", dtype="number", distinct=4) for i in range(1, 5))])])])  # fmt: skip
    chart = {"kind": "line", "title": "Quarters by region", "ys": ["q1", "q2", "q3", "q4"],
             "series": "region"}  # fmt: skip
    plan = Plan.model_validate({"files": [{"name": "c.png", "title": "Q", "charts": [chart]}]})
    checked = check_plan(plan, wide, ["png"], "a line chart of the quarters, a line per region")
    assert checked.ok, checked.problems
    code = script_request(checked.plan).content
    assert 'table = df.groupby("Region")[["Q1", "Q2", "Q3", "Q4"]].agg("sum").T' in code
    repeated = wide.model_copy(deep=True)
    long = repeated.inputs[0].tables[0].model_copy(update={"rows": 40})
    repeated = Profile(inputs=[repeated.inputs[0].model_copy(update={"tables": [long]})])
    problems = check_plan(plan, repeated, ["png"], "lines").problems
    assert any("'Region' has 4 distinct values in 40 rows" in p for p in problems), problems


def test_one_line_per_a_column_makes_it_the_series_not_the_x_axis() -> None:
    wide = Profile(inputs=[InputProfile(file="q.csv", kind="table", tables=[TP(
        name="q.csv", rows=4, columns=[
            ColumnProfile(name="Region", dtype="text", distinct=4),
            *(ColumnProfile(name=f"Q{i}", dtype="number", distinct=4) for i in range(1, 5))])])])  # fmt: skip
    prompt = "Line chart of the quarterly revenue with a separate line for each region"
    across = {"kind": "line", "title": "Revenue", "x": "region", "ys": ["q1", "q2", "q3", "q4"],
              "agg": "sum"}  # fmt: skip
    plan = Plan.model_validate({"files": [{"name": "c.png", "title": "Q", "charts": [across]}]})
    checked = check_plan(plan, wide, ["png"], prompt)
    assert checked.data_problems == [
        "the request asks for one line per 'Region': each Region is its own line, so the line "
        'chart needs "series": "Region", its value columns as "ys" and no "x"'
    ]  # and nothing about agg with ys and no y
    right = {k: v for k, v in across.items() if k not in ("x", "agg")} | {"series": "region"}
    fixed = Plan.model_validate({"files": [{"name": "c.png", "title": "Q", "charts": [right]}]})
    assert check_plan(fixed, wide, ["png"], prompt).ok
    # long data: the series is the column, x the one the values run along
    by_month = bar(kind="line", x="Region", y="Revenue", agg="sum")
    said = check_plan(by_month, SALES, ["png"], "revenue by month, one line per region")
    assert any('needs "series": "Region" and "x" the column' in p for p in said.data_problems)
    line = bar(kind="line", x="Month", y="Revenue", series="Region", agg="sum")
    assert check_plan(line, SALES, ["png"], "revenue by month, one line per region").ok
    # no line chart in the plan, or a line that is no chart's: nothing to say here
    assert not any("one line per" in p for p in check_plan(
        bar(x="Region", y="Revenue", agg="sum"), SALES, ["png"], "an invoice line per region"
    ).problems)  # fmt: skip


@pytest.mark.parametrize(
    ("prompt", "way"),
    [
        ("a bar chart of revenue per region, cheapest first", "asc"),
        ("revenue per region sorted from highest to lowest", "desc"),
        ("revenue per region in descending order", "desc"),
        ("rank the regions by revenue", "any"),
        ("the regions by revenue, smallest first", "asc"),
    ],
)
def test_an_order_the_request_asks_for_is_the_plans(prompt: str, way: str) -> None:
    from promptkiln.checks.plan_order import asked_order

    assert asked_order(prompt) == way
    unsorted = check_plan(bar(), SALES, ["png"], prompt)
    [problem] = [p for p in unsorted.data_problems if "asks for an order" in p]
    assert "'Revenue by region' keeps the input's order" in problem
    right = "desc" if way == "any" else way
    assert check_plan(bar(sort=right), SALES, ["png"], prompt).ok
    if way != "any":
        wrong = check_plan(bar(sort="asc" if way == "desc" else "desc"), SALES, ["png"], prompt)
        assert any("sorts the other way" in p for p in wrong.data_problems)


def test_words_that_ask_no_order_leave_the_plan_unsorted() -> None:
    from promptkiln.checks.plan_order import asked_order

    for prompt in ("which region sold the most", "sorted by date", "the orders by region",
                   "oldest first", "revenue per region"):  # fmt: skip
        assert asked_order(prompt) is None, prompt
        assert check_plan(bar(), SALES, ["png"], prompt).ok, prompt
    # "sorted by" a label column is an order of labels, which no sort by value gives
    assert asked_order("revenue per region sorted by region", ["Region"]) is None
    assert check_plan(bar(), SALES, ["png"], "revenue per region sorted by region").ok
    # a line keeps its x axis' order: no sort asked of it
    line = bar(kind="line", x="Month")
    assert check_plan(line, SALES, ["png"], "revenue per month, highest first").ok


def test_a_column_the_request_names_and_the_plan_leaves_out_is_a_hint_not_a_data_problem() -> None:
    counted = bar(agg="count", y=None, kind="pie")
    checked = check_plan(counted, SALES, ["png"], "a pie of each region's share of the revenue")
    hint = "the request names the column 'revenue' and no chart or table of the plan uses it"
    assert any(hint in p for p in checked.problems), checked.problems
    assert checked.data_problems == []
    assert check_plan(bar(kind="pie"), SALES, ["png"], "each region's share of the revenue").ok
    # a computed value uses its columns; "unit price" in words matches Unit_price
    priced = bar(y="revenue * unit price")
    assert check_plan(priced, SALES, ["png"], "revenue times unit price per region").ok


def test_a_chart_planned_in_a_data_file_is_dropped_and_one_without_data_needs_values() -> None:
    table = Table(columns=["Region", "total"], group="Region", value="Revenue", agg="sum")
    chart = Chart(kind="bar", title="Revenue", x="Region", y="Revenue", agg="sum")
    csv = Plan(files=[OutputFile(name="t.csv", title="T", charts=[chart], tables=[table])])
    checked = check_plan(csv, SALES, ["csv"], "total revenue per region as CSV")
    assert checked.ok, checked.problems
    assert checked.plan.files[0].charts == [] and checked.plan.files[0].tables
    invented = bar(source=None, x="quarter", y="revenue")
    problems = check_plan(invented, None, ["png"], "a bar chart of our quarters").problems
    assert any("there is no input file; give its values" in p for p in problems), problems
    stated = bar(source=None, x=None, y=None, agg="none", values={"Q1": 2.1, "Q2": 2.8})
    assert check_plan(stated, None, ["png"], "Q1 2.1, Q2 2.8 as a bar chart").ok


@pytest.mark.parametrize(
    ("prompt", "sort", "limit"),
    [
        ("Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M", "none", None),
        ("Bars of revenue per quarter with the values on top of the bars", "none", None),
        ("a table of revenue per region, the total at the bottom", "none", None),
        ("revenue per region as a bar chart", "none", None),
        ("revenue per region, highest first", "desc", None),
        ("the top 3 regions by revenue", "desc", 3),
        ("the three best regions by revenue", "desc", 3),
        ("regions ranked by revenue, 4.5 % growth noted", "desc", None),
    ],
)
def test_an_order_or_a_limit_the_request_does_not_ask_for_is_taken_out(
    prompt: str, sort: str, limit: int | None
) -> None:
    checked = check_plan(bar(sort="desc", limit=3), SALES, ["png"], prompt)
    chart = checked.plan.files[0].charts[0]
    assert (chart.sort, chart.limit) == (sort, limit), prompt
    listing = Plan(
        files=[
            OutputFile(
                name="t.pdf",
                title="Revenue",
                input="sales.csv",
                tables=[Table(columns=["Region", "total"], group="Region", value="Revenue",
                              agg="sum", sort="asc", limit=2)],
            )
        ]
    )  # fmt: skip
    table = check_plan(listing, SALES, ["pdf"], "revenue per region").plan.files[0].tables[0]
    assert (table.sort, table.limit) == ("none", None)
    # a line chart sorted unasked is no longer a problem: the sort is gone before the check
    assert check_plan(bar(kind="line", x="Month", sort="desc"), SALES, ["png"], "a line chart").ok


def test_a_value_per_a_repeating_column_needs_a_group_by_it() -> None:
    listing = Plan(
        files=[
            OutputFile(name="r.pdf", title="Revenue", input="sales.csv",
                       tables=[Table(columns=["Region", "Revenue"])])
        ]
    )  # fmt: skip
    checked = check_plan(listing, SALES, ["pdf"], "a PDF with the total revenue for each region")
    assert any("values per 'Region'" in p for p in checked.data_problems), checked
    assert not any("names the column 'region'" in p for p in checked.problems)  # said once
    assert any('"value": "Revenue", "agg": "sum"' in p for p in checked.data_problems)
    # the example groups the number column the request names, not just the first one
    priced = check_plan(listing, SALES, ["pdf"], "a PDF with the total unit price for each region")
    assert any('"value": "Unit price", "agg": "sum"' in p for p in priced.data_problems), priced
    # ... combined by the aggregation the request names, in the plan's own listing to copy
    mean = check_plan(listing, SALES, ["pdf"], "the average revenue for each region")
    example = (
        '{"columns": ["Region", "Revenue"], "group": "Region", "value": "Revenue", "agg": "mean"}'
    )
    assert any(f"a table like {example} (one row per Region" in p for p in mean.data_problems)
    grouped = check_plan(bar(), SALES, ["png"], "total revenue per region")
    assert grouped.ok, grouped
    # "per unit price" names a column whose values do not repeat for the phrase to mean groups,
    # and "by region" alone may mean an order: neither is held against a listing
    per_id = check_plan(listing, SALES, ["pdf"], "the revenue per order id")
    assert not any("values per" in p for p in per_id.problems)
    by = check_plan(listing, SALES, ["pdf"], "list the orders by region")
    assert any("values per 'Region'" in p for p in by.problems)  # sent back once, as a hint
    assert by.data_problems == []
    assert check_plan(listing, SALES, ["pdf"], "the orders sorted by region").problems == []


def test_a_chart_in_a_document_the_request_asks_no_chart_for_is_taken_out() -> None:
    letter = Plan(
        files=[
            OutputFile(name="offer.docx", title="Offer", charts=[
                Chart(kind="line", title="Salary by year", values={"2025": 58000.0})])
        ]
    )  # fmt: skip
    assert (
        check_plan(letter, None, ["docx"], "an offer letter, salary 58,000").plan.files[0].charts
        == []
    )
    asked = check_plan(letter, None, ["docx"], "a report with a line graph of the salary")
    assert len(asked.plan.files[0].charts) == 1
    image = bar().files[0]  # an image file is a chart: never taken out
    assert (
        check_plan(Plan(files=[image]), SALES, ["png"], "revenue per region").plan.files[0].charts
    )


def test_a_value_per_calendar_period_needs_the_date_column_counted_per_that_period() -> None:
    daily_rows = Profile(inputs=[InputProfile(file="sales.csv", kind="table", tables=[TP(
        name="sales.csv", rows=120,
        columns=[ColumnProfile(name="Day", dtype="date", distinct=60, first="2024-01-01",
                               last="2024-02-29"),
                 ColumnProfile(name="Region", dtype="text", distinct=2),
                 ColumnProfile(name="Revenue", dtype="number", distinct=100)])])])  # fmt: skip
    daily = bar(x="Day", y="Revenue", kind="line")
    checked = check_plan(daily, daily_rows, ["png"], "a line chart of the monthly revenue")
    assert any('set "period": "month"' in p for p in checked.data_problems), checked
    per_month = bar(x="Day", y="Revenue", kind="line", period="month")
    assert check_plan(per_month, daily_rows, ["png"], "a line chart of revenue per month").ok
    listing = Plan(files=[OutputFile(name="u.csv", title="Units", input="sales.csv",
                                     tables=[Table(columns=["Day", "Revenue"])])])  # fmt: skip
    problems = check_plan(listing, daily_rows, ["csv"], "revenue per week, one row each").problems
    assert any("counts the date column 'Day' per week" in p for p in problems), problems
    # dates that are already one per month need no period; "an annual report" asks for none
    assert check_plan(bar(x="Month"), SALES, ["png"], "revenue by month as bars").ok
    assert check_plan(bar(), daily_rows, ["png"], "an annual report chart of revenue by region").ok
    # a period on a column that is no date, or without an aggregation, is a problem of its own
    wrong = check_plan(bar(period="month"), SALES, ["png"], "revenue").problems
    assert any("'Region' is a text column; leave period out" in p for p in wrong), wrong
    bare = check_plan(bar(x="Month", agg="none", period="month"), SALES, ["png"], "").problems
    assert any("period month combines the rows of each month; set agg" in p for p in bare)


def test_a_period_becomes_pandas_for_the_script_and_reads_in_the_progress() -> None:
    from promptkiln.llm.plan_code import data_lines

    plan = check_plan(bar(x="Month", kind="line", period="month"), SALES, ["png"]).plan
    code = data_lines(plan)
    assert 'df["Month"] = pd.to_datetime(df["Month"]).dt.to_period("M").astype(str)' in code
    assert describe(plan) == "chart.png: line Month by month x Revenue (sum)"
