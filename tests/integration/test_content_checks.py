"""The chart-facts hook and the content checks, with real matplotlib in the real image.

The hook records what each savefig drew (cold and warm interpreter alike); the expected numbers
are computed by our own script in a fresh sandbox; a right chart passes and a wrong one (wrong
aggregation, wrong sort, a missing series, a placeholder title) fails with what it shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkiln.checks.content import check
from promptkiln.checks.content_expected import specs_for
from promptkiln.checks.facts import file_facts
from promptkiln.config import Settings, load_settings
from promptkiln.making.expected import compute
from promptkiln.making.pipeline import run_in_sandbox
from promptkiln.plan import Chart, OutputFile, Plan
from promptkiln.sandbox.base import InputFile
from promptkiln.sandbox.pool import SandboxPool

pytestmark = [pytest.mark.docker]

SALES = InputFile(
    "sales.csv",
    b"region,city,day,revenue,temp,channel\n"
    b"East,Oslo,2024-01-01,1000,3,web\nEast,Oslo,2024-01-02,2400,5,shop\n"
    b"West,Rome,2024-01-01,500,12,web\nNorth,Bergen,2024-01-01,800,1,web\n"
    b"North,Bergen,2024-01-02,200,2,phone\nWest,Rome,2024-01-02,700,14,web\n",
)

ALL_KINDS = b"""
import numpy as np, pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("inputs/sales.csv")
t = df.groupby("region")["revenue"].sum()
fig, ax = plt.subplots(); ax.bar(t.index, t.values, label="Revenue"); ax.set_title("Revenue")
ax.set_xlabel("Region"); ax.legend(); fig.savefig("bar.png")
fig, ax = plt.subplots()
for city, part in df.groupby("city"):
    ax.plot(part["day"], part["temp"], label=city)
ax.legend(); fig.savefig("line.png")
fig, ax = plt.subplots(); c = df["channel"].value_counts()
ax.pie(c.values, labels=c.index, autopct="%1.0f%%"); fig.savefig("pie.png")
fig, ax = plt.subplots(); ax.scatter(df["temp"], df["revenue"]); fig.savefig("scatter.png")
fig, ax = plt.subplots(); ax.hist(df["revenue"], bins=3); fig.savefig("hist.png")
p = df.pivot_table(index="region", columns="channel", values="revenue", aggfunc="sum").fillna(0)
p.plot.bar(stacked=True); plt.savefig("stacked.png")
p.plot.bar(); plt.savefig("grouped.png")
fig, ax = plt.subplots(); ax.plot(pd.to_datetime(df["day"]), df["temp"]); fig.savefig("dates.png")
"""


@pytest.fixture
def settings() -> Settings:
    return load_settings(limits={"timeout": 120})


def _facts(settings: Settings, script: bytes, tmp_path: Path, **kw: Any) -> Any:
    run = run_in_sandbox(script, [SALES], tmp_path / "out", settings, **kw)
    assert run.result.exit_code == 0, run.result.stderr.text
    return run


def test_the_hook_records_every_kind_of_chart(settings: Settings, tmp_path: Path) -> None:
    run = _facts(settings, ALL_KINDS, tmp_path)
    assert "chart-facts" not in " ".join(a.name for a in run.artifacts)  # never delivered
    figs = {f["file"]: f["axes"][0] for f in run.chart_facts}
    bar = figs["bar.png"]
    assert bar["title"] == "Revenue" and bar["xlabel"] == "Region" and bar["legend"] == ["Revenue"]
    assert {b["category"]: b["value"] for b in bar["bars"][0]["bars"]} == {
        "East": 3400, "North": 1000, "West": 1200
    }  # fmt: skip
    lines = {ln["label"]: ln for ln in figs["line.png"]["lines"]}
    assert set(lines) == {"Bergen", "Oslo", "Rome"}
    assert lines["Oslo"]["x"] == ["2024-01-01", "2024-01-02"] and lines["Oslo"]["y"] == [3, 5]
    assert figs["dates.png"]["lines"][0]["x"][:2] == ["2024-01-01", "2024-01-02"]
    wedges = {w["label"]: round(w["fraction"], 3) for w in figs["pie.png"]["wedges"]}
    assert wedges == {"web": 0.667, "shop": 0.167, "phone": 0.167}
    assert sorted(p[1] for p in figs["scatter.png"]["scatter"][0]["points"]) == [
        200, 500, 700, 800, 1000, 2400
    ]  # fmt: skip
    assert sum(b["value"] for b in figs["hist.png"]["bars"][0]["bars"]) == 6
    stacked = figs["stacked.png"]["bars"]
    assert [s["label"] for s in stacked] == ["phone", "shop", "web"]
    web = {b["category"]: (b["value"], b["bottom"]) for b in stacked[2]["bars"]}
    assert web["East"] == (1000, 2400) and web["West"] == (1200, 0)
    grouped = figs["grouped.png"]["bars"]
    assert len(grouped) == 3 and all(b["bottom"] == 0 for s in grouped for b in s["bars"])
    assert {b["category"] for b in grouped[0]["bars"]} == {"East", "North", "West"}


def test_the_hook_works_in_the_warm_interpreter(settings: Settings, tmp_path: Path) -> None:
    pool = SandboxPool(settings, size=1, idle_s=600)
    try:
        assert pool.wait_ready(), pool.last_error
        run = _facts(settings, ALL_KINDS, tmp_path, factory=pool.factory)
        assert "warm" in run.sandbox.extra  # the job ran in the warm interpreter
        assert {f["file"] for f in run.chart_facts} >= {"bar.png", "pie.png", "grouped.png"}
    finally:
        pool.close(wait=True)


RIGHT = """
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("inputs/sales.csv")
t = df.groupby("region")["revenue"].{agg}(){sort}
fig, ax = plt.subplots(); ax.bar(t.index, t.values); ax.set_title({title!r}); fig.savefig("bar.png")
fig, ax = plt.subplots()
{lines}
ax.set_title("Temperature per day"); ax.legend(); fig.savefig("line.png")
c = df["channel"].value_counts() if {count} else df.groupby("channel")["temp"].sum()
fig, ax = plt.subplots(); ax.pie(c.values, labels=c.index); ax.set_title("Responses by channel")
fig.savefig("pie.png")
"""
PER_CITY = """for city, part in df.groupby("city"):
    ax.plot(part["day"], part["temp"], label=city)"""
ONE_LINE = """s = df.groupby("city")["temp"].sum()
ax.plot(s.index, s.values, label="temp")"""


def _script(**kw: Any) -> bytes:
    args = {"agg": "sum", "sort": '.sort_values(ascending=False)', "title": "Revenue by region",
            "lines": PER_CITY, "count": True, **kw}  # fmt: skip
    return RIGHT.format(**args).encode()


PLAN = Plan(
    files=[
        OutputFile(name="bar.png", title="Revenue by region", input="sales.csv", charts=[
            Chart(kind="bar", title="Revenue by region", x="region", y="revenue", agg="sum",
                  sort="desc")]),
        OutputFile(name="line.png", title="Temperature", input="sales.csv", charts=[
            Chart(kind="line", title="Temperature per day", x="day", y="temp", series="city")]),
        OutputFile(name="pie.png", title="Channels", input="sales.csv", charts=[
            Chart(kind="pie", title="Responses by channel", x="channel", agg="count")]),
    ]
)  # fmt: skip


def test_right_charts_pass_and_wrong_ones_fail(settings: Settings, tmp_path: Path) -> None:
    specs = specs_for(PLAN)
    expected = compute(specs, [SALES], settings)
    assert expected["f0c0"].values == {"East": 3400, "West": 1200, "North": 1000}
    assert expected["f1c0"].series["Oslo"] == {"2024-01-01": 3, "2024-01-02": 5}

    def outcomes(script: bytes, name: str) -> dict[str, Any]:
        run = _facts(settings, script, tmp_path / name)
        facts = {a.name: file_facts(Path(a.path), a.name.rsplit(".", 1)[1]) for a in run.artifacts}
        found = check(PLAN, specs, expected, facts, run.chart_facts, "charts of sales.csv")
        return {o.requirement.params["file"] + ":" + o.requirement.params.get("check", "data"): o
                for o in found}  # fmt: skip

    right = outcomes(_script(), "right")
    assert all(o.met for o in right.values()), [o.detail for o in right.values() if not o.met]
    assert {"bar.png:data", "line.png:data", "pie.png:data", "bar.png:placeholders"} <= set(right)

    wrong = outcomes(
        _script(agg="mean", sort="", title="Title", lines=ONE_LINE, count=False), "wrong"
    )
    bar = wrong["bar.png:data"]
    assert not bar.met and "East=1700" in bar.detail and "expected East=3400" in bar.detail
    assert bar.requirement.text == (
        "the bar chart in bar.png shows the sum of revenue per region, highest first"
    )
    line = wrong["line.png:data"]
    assert not line.met and "1 line, expected 3, one per city" in line.detail
    assert not wrong["pie.png:data"].met
    assert wrong["bar.png:placeholders"].detail == "its chart's title is 'Title'"

    unsorted = outcomes(_script(sort=""), "unsorted")["bar.png:data"]
    assert not unsorted.met and "not sorted highest first" in unsorted.detail


WEB_ONLY = b"""
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("inputs/sales.csv")
t = df[df["channel"] == "web"].groupby("region")["revenue"].sum().sort_values(ascending=False)
t = t.head(2)
fig, ax = plt.subplots(); ax.bar(t.index, t.values); ax.set_title("Web revenue"); fig.savefig("bar.png")
"""


def _bar_verdict(settings: Settings, run: Any, prompt: str) -> Any:
    """The outcome of PLAN's bar chart (revenue per region, highest first) for ``run``'s
    bar.png, with the expected numbers computed for ``prompt``."""
    plan = Plan(files=[PLAN.files[0]])
    specs = specs_for(plan)
    facts = {a.name: file_facts(Path(a.path), "png") for a in run.artifacts}
    expected = compute(specs, [SALES], settings, prompt=prompt)
    found = check(plan, specs, expected, facts, run.chart_facts, prompt)
    return next(o for o in found if o.requirement.params.get("spec") == "f0c0")


def test_a_subset_the_prompt_names_and_the_top_n_of_a_sorted_chart_pass(
    settings: Settings, tmp_path: Path
) -> None:
    run = _facts(settings, WEB_ONLY, tmp_path)
    # web: West 1200, East 1000, North 800 -> the two highest drawn
    prompt = "the two regions with the most web revenue, highest first"
    assert _bar_verdict(settings, run, prompt).met
    wrong = _bar_verdict(settings, run, "the two regions with the most revenue, highest first")
    assert not wrong.met and "East=1000" in wrong.detail and "expected East=3400" in wrong.detail


ALL_ROWS = b"""
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("inputs/sales.csv")
t = df.groupby("region")["revenue"].sum().sort_values(ascending=False)
fig, ax = plt.subplots(); ax.bar(t.index, t.values); ax.set_title("Revenue"); fig.savefig("bar.png")
"""


def test_when_the_request_names_one_subset_the_whole_table_is_not_what_it_asked(
    settings: Settings, tmp_path: Path
) -> None:
    whole = _facts(settings, ALL_ROWS, tmp_path / "all")
    web = _facts(settings, WEB_ONLY.replace(b"t.head(2)", b"t"), tmp_path / "web")

    def verdict(run: Any, prompt: str) -> Any:
        return _bar_verdict(settings, run, prompt)

    asked = "a bar chart of the web revenue per region, highest first"
    assert verdict(web, asked).met
    wrong = verdict(whole, asked)
    assert not wrong.met and wrong.detail.startswith(
        "it shows the whole table, not the rows where channel = web, the subset the request names"
    )
    # two values named, or one excluded: not "only these rows", so the whole table may be meant
    assert verdict(whole, "revenue per region, web and shop together, highest first").met
    # (an exclusion is not computed: the whole table is not called wrong for it either)
    except_web = "revenue per region of every channel except web, highest first"
    assert verdict(whole, except_web).met
    assert verdict(whole, "revenue per region including web orders, highest first").met


TITLED = """```python
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["Q1", "Q2"], [2.1, 2.8])
ax.set_title({title!r})
fig.savefig("revenue.png")
```"""


def test_a_failed_content_check_goes_back_to_the_model(openai_server: Any, tmp_path: Path) -> None:
    from promptkiln.making.make import make

    openai_server.enqueue(TITLED.format(title="Title"))
    openai_server.enqueue(TITLED.format(title="Revenue per quarter"))
    settings = load_settings(model="openai/test-model", api_base=openai_server.url)
    result = make("a bar chart of revenue per quarter", formats=["png"], out=tmp_path / "o",
                  settings=settings)  # fmt: skip
    assert result.status == "ok" and result.attempt_count == 2
    assert [f.name for f in result.files] == ["revenue.png"]
    feedback = str(openai_server.history[1]["messages"][-1]["content"])
    assert "revenue.png has real titles and labels, not placeholders" in feedback
    assert "its chart's title is 'Title'" in feedback and "ax.set_title(" in feedback


def test_expected_numbers_for_several_columns_aggregations_and_single_figures(
    settings: Settings,
) -> None:
    from promptkiln.checks.content_expected import Spec

    specs = [
        Spec("wide", "c.png", "chart", "bar", "sales.csv", "region", None, None, "sum", "none",
             ys=("revenue", "temp")),
        Spec("aggs", "t.docx", "table", "table", "sales.csv", "region", "revenue", None, "mean",
             "none", aggs=("mean", "max")),
        Spec("one", "t.docx", "table", "table", "sales.csv", None, "revenue", None, "sum", "none"),
        Spec("derived", "c.png", "chart", "bar", "sales.csv", "region", "(revenue - 100) / temp",
             None, "sum", "desc"),
        Spec("listing", "t.docx", "table", "table", "staff.csv", "name", "salary", None, "none",
             "none", listing=True),
        Spec("monthly", "c.png", "chart", "line", "sales.csv", "day", "revenue", None, "sum",
             "none", period="month"),
        Spec("quarterly", "t.docx", "table", "table", "sales.csv", "day", None, None, "count",
             "none", period="quarter"),
    ]  # fmt: skip
    staff = InputFile("staff.csv", b"name,salary\nAda,52000.5\nBo,48000\n")
    got = compute(specs, [SALES, staff], settings)
    assert got["listing"].values == {"Ada": 52000.5, "Bo": 48000}  # rows as the input has them
    assert got["monthly"].values == {"2024-01": 5600}  # the days of a month combined
    assert got["quarterly"].values == {"2024Q1": 6}
    assert got["wide"].series == {
        "revenue": {"East": 3400, "West": 1200, "North": 1000},
        "temp": {"East": 8, "West": 26, "North": 3},
    }
    assert got["aggs"].series["max"] == {"East": 2400, "West": 700, "North": 800}
    assert got["one"].values == {"sum": 5600}
    # a value no column holds, computed from number columns as the plan checks allowed it
    assert got["derived"].values == pytest.approx(
        {"East": 760.0, "North": 750.0, "West": 400 / 12 + 600 / 14}
    )
    assert got["derived"].order == ["East", "North", "West"]


def wrap(script: bytes) -> str:
    return "```python\n" + script.decode() + "\n```"


def test_the_repair_loop_feeds_a_wrong_aggregation_back_and_keeps_the_right_chart(
    openai_server: Any, tmp_path: Path
) -> None:
    """The loop as make() drives it, with the plan set on it (the plan branch's make() sets
    it from the model's checked plan): a chart of means where sums were planned is unmet, its
    numbers go back to the model, the next answer is right."""
    from promptkiln.llm.generate import Message
    from promptkiln.making.attempt_loop import RepairLoop
    from promptkiln.making.pipeline import make_generator

    plan = Plan(files=[PLAN.files[0]])
    settings = load_settings(model="openai/test-model", api_base=openai_server.url, time_budget=0)
    gen, _ = make_generator(None, settings, lambda _: None)
    bar = b"""
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("inputs/sales.csv")
t = df.groupby("region")["revenue"].%s().sort_values(ascending=False)
fig, ax = plt.subplots(); ax.bar(t.index, t.values); ax.set_title("Revenue by region")
fig.savefig("bar.png")
"""
    openai_server.enqueue(wrap(bar % b"mean"))
    openai_server.enqueue(wrap(bar % b"sum"))
    prompt = "a bar chart of total revenue per region, highest first"
    loop = RepairLoop(settings, gen, None, lambda _: None, None, [SALES], ["png"], [], prompt)
    loop.plan = plan  # type: ignore[attr-defined]  # set by make() on the plan branch
    loop.staging_root = tmp_path / "staging"
    winner = loop.run([Message("system", "write python"), Message("user", prompt)], None)
    assert winner is not None and winner.attempt.number == 2
    first = loop.attempts[0].requirements
    content = {o.requirement.text: o.met for o in first if o.requirement.kind == "content"}
    assert content == {  # the numbers, the placeholders, the chart kind the request names
        "the bar chart in bar.png shows the sum of revenue per region, highest first": False,
        "bar.png has real titles and labels, not placeholders": True,
        "a bar chart is drawn": True,
    }
    feedback = str(openai_server.history[1]["messages"][-1]["content"])
    assert "the bar chart in bar.png shows the sum of revenue per region, highest first" in feedback
    assert "East=1700" in feedback and "expected East=3400" in feedback


WIDE = InputFile("wide.csv", b"region,q1,q2,q3\nEast,10,20,30\nWest,5,4,3\nEast,1,1,1\n")
WIDE_PLAN = Plan(
    files=[OutputFile(name="wide.png", title="Quarters", input="wide.csv", charts=[
        Chart(kind="line", title="Revenue per quarter by region", ys=["q1", "q2", "q3"],
              series="region", agg="sum")])]
)  # fmt: skip


def test_wide_data_read_across_each_row_is_drawn_from_the_plans_own_code(
    settings: Settings, tmp_path: Path
) -> None:
    from promptkiln.llm.plan_code import data_lines

    specs = specs_for(WIDE_PLAN)
    expected = compute(specs, [WIDE], settings)
    assert expected["f0c0"].series == {
        "East": {"q1": 11, "q2": 21, "q3": 31},
        "West": {"q1": 5, "q2": 4, "q3": 3},
    }
    code = [ln.split(": ", 1)[-1] for ln in data_lines(WIDE_PLAN).splitlines()]
    read, data = code[0].removeprefix("- "), code[1].split("; draw: ")
    draw = data[1]
    assert draw == 'table.plot(ax=ax, marker="o")'

    def verdict(table: str, name: str) -> Any:
        script = (
            "import pandas as pd, matplotlib.pyplot as plt\n"
            f"{read}\n{table}\nfig, ax = plt.subplots()\n{draw}\n"
            "ax.set_title('Revenue per quarter by region'); fig.savefig('wide.png')\n"
        ).encode()
        run = run_in_sandbox(script, [WIDE], tmp_path / name, settings)
        assert run.result.exit_code == 0, run.result.stderr.text
        facts = {a.name: file_facts(Path(a.path), "png") for a in run.artifacts}
        found = check(WIDE_PLAN, specs, expected, facts, run.chart_facts, "quarters by region")
        return next(o for o in found if o.requirement.params.get("spec") == "f0c0")

    right = verdict(data[0], "right")
    assert right.met, right.detail
    across = verdict(data[0].removesuffix(".T"), "across")  # a line per quarter instead
    assert not across.met


POINTS_PLAN = Plan(
    files=[
        OutputFile(name="scatter.png", title="Revenue and temperature", input="sales.csv", charts=[
            Chart(kind="scatter", title="Revenue and temperature", x="temp", y="revenue")]),
        OutputFile(name="hist.png", title="Revenue", input="sales.csv", charts=[
            Chart(kind="hist", title="Revenue", y="revenue")]),
    ]
)  # fmt: skip
POINTS = """
import pandas as pd, matplotlib.pyplot as plt
df = pd.read_csv("inputs/sales.csv")
fig, ax = plt.subplots(); ax.scatter(df[{sx!r}], df[{sy!r}]); ax.set_title("Revenue and temperature")
fig.savefig("scatter.png")
fig, ax = plt.subplots(); ax.hist({hist}, bins=4); ax.set_title("Revenue"); fig.savefig("hist.png")
"""


def test_a_scatter_plot_and_a_histogram_are_judged_by_the_rows_they_draw(
    settings: Settings, tmp_path: Path
) -> None:
    specs = specs_for(POINTS_PLAN)
    expected = compute(specs, [SALES], settings)
    assert sorted(expected["f0c0"].pairs) == sorted(
        [(3, 1000), (5, 2400), (12, 500), (1, 800), (2, 200), (14, 700)]
    )
    assert expected["f1c0"].values == {"count": 6, "min": 200, "max": 2400}

    def outcomes(name: str, **kw: str) -> dict[str, Any]:
        args = {"sx": "temp", "sy": "revenue", "hist": 'df["revenue"]', **kw}
        run = _facts(settings, POINTS.format(**args).encode(), tmp_path / name)
        facts = {a.name: file_facts(Path(a.path), a.name.rsplit(".", 1)[1]) for a in run.artifacts}
        found = check(POINTS_PLAN, specs, expected, facts, run.chart_facts, "")
        return {o.requirement.params["file"]: o for o in found if "spec" in o.requirement.params}

    right = outcomes("right")
    assert all(o.met for o in right.values()), [o.detail for o in right.values() if not o.met]
    assert right["hist.png"].requirement.text == (
        "the histogram in hist.png shows every value of revenue"
    )
    swapped = outcomes("swapped", sx="revenue", sy="temp")  # y against x: still the rows
    assert swapped["scatter.png"].met

    twice = outcomes("twice", hist='pd.concat([df["revenue"], df["revenue"]])')
    assert not twice["hist.png"].met
    assert "its bars count 12 values, revenue has 6" in twice["hist.png"].detail
    totals = outcomes("totals", hist='df.groupby("region")["revenue"].sum()')
    assert not totals["hist.png"].met
    assert (
        "its bins span 1000 to 3400, not all of revenue (200 to 2400)" in totals["hist.png"].detail
    )

    other = outcomes("other", sy="temp", sx="temp", hist='df["temp"]')
    scatter = other["scatter.png"]
    assert not scatter.met and "are not (temp, revenue) pairs of the input" in scatter.detail
    assert not other["hist.png"].met and "its bins span 1 to 14" in other["hist.png"].detail


def test_a_year_named_alone_is_the_subset_a_range_or_a_comparison_is_not(
    settings: Settings,
) -> None:
    years = InputFile(
        "orders.csv",
        b"day,region,units,status\n2023-05-01,East,5,open\n2024-02-01,East,7,closed\n"
        b"2024-03-01,West,100,open\n2023-07-01,West,2,closed\n",
    )
    plan = Plan(files=[OutputFile(name="u.png", title="Units", input="orders.csv", charts=[
        Chart(kind="bar", title="Units", x="region", y="units", agg="sum")])])  # fmt: skip
    specs = specs_for(plan)

    def subsets(prompt: str) -> dict[str, bool]:
        want = compute(specs, [years], settings, prompt=prompt)["f0c0"]
        return {str(alt.filter): alt.required for alt in want.alternatives}

    assert subsets("units per region in 2024") == {"day in 2024": True}
    assert subsets("units per region since 2024") == {"day in 2024": False}
    assert subsets("units per region, 2023 vs 2024") == {"day in 2023": False, "day in 2024": False}
    # a text value named alone is the subset too
    assert subsets("units per region of the open orders") == {"status = open": True}
    assert subsets("units per region, open and closed orders") == {
        "status = open": False,
        "status = closed": False,
    }
