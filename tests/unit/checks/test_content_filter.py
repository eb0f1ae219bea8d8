"""A listing the request filters by a threshold shows exactly the rows that pass it, judged
through the content checks' entry point on a file's rows."""

from __future__ import annotations

import pytest

from promptkiln.checks.content import check
from promptkiln.checks.content_expected import Expected, Spec
from promptkiln.checks.content_filter import threshold
from promptkiln.plan import OutputFile, Plan, Table

UNITS = {"Anvil": 150.0, "Bolt": 320.0, "Crate": 90.0, "Drill": 40.0, "Easel": 101.0}
SPEC = Spec("f0t0", "result.csv", "table", "table", "products.csv", "product", "units", None,
            "none", "none", listing=True)  # fmt: skip
PLAN = Plan(files=[OutputFile(name="result.csv", title="Products",
                              tables=[Table(columns=["product", "units"])])])  # fmt: skip
PROMPT = "CSV of only the products in products.csv with more than 100 units"


def _verdict(shown: dict[str, float], prompt: str = PROMPT, spec: Spec = SPEC) -> str:
    rows = [["product", "units"], *([k, f"{v:g}"] for k, v in shown.items())]
    expected = {"f0t0": Expected(values=UNITS, order=list(UNITS), rows=len(UNITS))}
    facts = {"result.csv": {"kind": "csv", "rows": rows, "text": ""}}
    [outcome] = [o for o in check(PLAN, [spec], expected, facts, [], prompt) if o.requirement.kind == "content" and "spec" in o.requirement.params]  # fmt: skip
    return "" if outcome.met else outcome.detail


def test_the_rows_that_pass_the_threshold_pass() -> None:
    assert _verdict({"Anvil": 150, "Bolt": 320, "Easel": 101}) == ""


def test_rows_that_fail_it_or_rows_left_out_fail() -> None:
    assert _verdict(UNITS) == "it shows Crate, Drill, whose units is not > 100"
    assert _verdict({"Bolt": 320}) == "it leaves out Anvil, Easel, whose units is > 100"
    # without a threshold on its column, a listing may leave rows out
    assert _verdict({"Bolt": 320}, "CSV of the products and their units") == ""


def test_a_sorted_listing_may_show_the_first_that_pass() -> None:
    ranked = Spec(**{**SPEC.__dict__, "sort": "desc"})
    assert _verdict({"Bolt": 320, "Anvil": 150}, PROMPT + ", the two highest", ranked) == ""


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ("only the products with more than 100 units", (">", 100.0)),
        ("rows whose units are at least 1,000", (">=", 1000.0)),
        ("price at least $5 and units below 20", ("<", 20.0)),
        ("orders over 100 and more than 3 units", (">", 3.0)),
        ("products with more than 100 units or fewer than 5 units", None),  # two: not judged
        ("a list of the products", None),
    ],
)
def test_the_threshold_on_a_column(prompt: str, found: tuple[str, float] | None) -> None:
    assert threshold(prompt, "units") == found
