"""The content checkers of the evaluation: a right file passes, a wrong one fails — wrong
aggregation, wrong sort, a missing series, a placeholder title — on real files (reportlab,
python-docx, python-pptx, openpyxl) and on chart facts in the shape the platform's hook writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

QUALITY = Path(__file__).resolve().parents[3] / "benchmarks" / "quality"
sys.path.insert(0, str(QUALITY))

import metrics  # noqa: E402
import run as eval_run  # noqa: E402
from content import numbers, shows  # noqa: E402
from expect import group, ordered  # noqa: E402
from facts import sidecar  # noqa: E402
from inputs import table  # noqa: E402
from xlsx_charts import native_series  # noqa: E402

TASKS = {t.id: t for t in eval_run.all_tasks("dev")}


def _out(tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    out.mkdir()
    return out


def _chart(
    out: Path,
    file: str,
    bars: list[tuple[str | None, list[str], list[float]]] = (),  # type: ignore[assignment]
    lines: list[tuple[str | None, list[Any], list[float]]] = (),  # type: ignore[assignment]
    wedges: list[tuple[str, float]] = (),  # type: ignore[assignment]
    title: str = "A chart",
    horizontal: bool = False,
) -> None:
    """A delivered chart file and its facts, as the sandbox hook records them."""
    (out / file).write_bytes(b"\x89PNG")
    axes = {
        "title": title,
        "xlabel": "",
        "ylabel": "",
        "legend": [b[0] for b in bars if b[0]] + [ln[0] for ln in lines if ln[0]],
        "bars": [
            {
                "label": label,
                "horizontal": horizontal,
                "bars": [
                    {"category": c, "pos": float(i), "width": 0.8, "value": v, "bottom": 0.0}
                    for i, (c, v) in enumerate(zip(cats, values, strict=True))
                ],
            }
            for label, cats, values in bars
        ],
        "lines": [{"label": label, "x": xs, "y": ys} for label, xs, ys in lines],
        "wedges": [{"label": label, "fraction": f} for label, f in wedges],
        "scatter": [],
    }
    sidecar(out).write_text(json.dumps([{"file": file, "suptitle": "", "axes": [axes]}]))


def test_bars_need_the_asked_aggregation_and_order(tmp_path: Path) -> None:
    check = TASKS["dev_bar_region_sorted"].check
    totals = group("sales.csv", "region", "revenue")
    desc = ordered(totals)
    right = _out(tmp_path, "right")
    _chart(right, "r.png", bars=[(None, desc, [totals[r] for r in desc])], title="Revenue")
    assert check(right) == []
    means = group("sales.csv", "region", "revenue", "mean")
    wrong_agg = _out(tmp_path, "mean")
    _chart(wrong_agg, "r.png", bars=[(None, desc, [means[r] for r in desc])])
    assert any("expected" in p for p in check(wrong_agg))
    unsorted = _out(tmp_path, "unsorted")
    regions = sorted(totals)
    _chart(unsorted, "r.png", bars=[(None, regions, [totals[r] for r in regions])])
    assert any("order" in p for p in check(unsorted))
    placeholder = _out(tmp_path, "placeholder")
    _chart(placeholder, "r.png", bars=[(None, desc, [totals[r] for r in desc])], title="Title")
    assert check(placeholder) == ["placeholder text 'Title' in the chart"]


def test_a_chart_without_facts_is_not_verified(tmp_path: Path) -> None:
    out = _out(tmp_path, "out1")
    (out / "r.png").write_bytes(b"\x89PNG")
    assert TASKS["dev_bar_region_sorted"].check(out) == [
        "r.png: no chart facts recorded (what it drew is not verified)"
    ]


def test_one_line_per_series_not_one_line_of_sums(tmp_path: Path) -> None:
    check = TASKS["dev_lines_region_quarters"].check
    rows = table("sales_by_region.csv")
    quarters = ["Q1", "Q2", "Q3", "Q4"]
    right = _out(tmp_path, "right")
    series = [
        (r["region"], quarters, [float(r[q]) for q in ("q1", "q2", "q3", "q4")]) for r in rows
    ]
    _chart(right, "q.png", lines=series)  # type: ignore[arg-type]
    assert check(right) == []
    sums = _out(tmp_path, "sums")
    totals = [sum(float(r[q]) for q in ("q1", "q2", "q3", "q4")) for r in rows]
    _chart(sums, "q.png", lines=[(None, [r["region"] for r in rows], totals)])  # type: ignore[list-item]
    problems = check(sums)
    assert (
        problems[0]
        == f"1 lines drawn, expected {len(rows)} ({', '.join(r['region'] for r in rows)})"
    )
    missing = _out(tmp_path, "missing")
    _chart(missing, "q.png", lines=series[:-1])  # type: ignore[arg-type]
    assert f"no line labelled {rows[-1]['region']!r}" in check(missing)


def test_pie_wedges_are_the_shares_of_the_asked_quantity(tmp_path: Path) -> None:
    check = TASKS["dev_pie_units_product"].check
    units = group("sales.csv", "product", "units")
    total = sum(units.values())
    right = _out(tmp_path, "right")
    _chart(right, "p.png", wedges=[(k, v / total) for k, v in units.items()], title="Units")
    assert check(right) == []
    counts = group("sales.csv", "product", agg="count")
    wrong = _out(tmp_path, "counts")
    _chart(wrong, "p.png", wedges=[(k, v / 120) for k, v in counts.items()], title="Units")
    assert any("of the pie, expected" in p for p in check(wrong))


def _pdf_table(path: Path, rows: list[list[str]]) -> None:
    from reportlab.platypus import SimpleDocTemplate, Table

    SimpleDocTemplate(str(path)).build([Table(rows)])


def test_a_pdf_table_row_shows_each_label_with_its_value_in_order(tmp_path: Path) -> None:
    check = TASKS["dev_pdf_stock_value"].check
    value = {r["product"]: int(r["units"]) * float(r["price"]) for r in table("products.csv")}
    right = _out(tmp_path, "right")
    _pdf_table(
        right / "s.pdf",
        [["Product", "Stock value"]] + [[p, f"{value[p]:,.2f}"] for p in ordered(value)],
    )
    assert check(right) == []
    by_name = _out(tmp_path, "by_name")
    _pdf_table(by_name / "s.pdf", [[p, f"{value[p]:,.2f}"] for p in sorted(value)])
    assert any(p.startswith("order is") for p in check(by_name))
    units_only = _out(tmp_path, "units")
    _pdf_table(units_only / "s.pdf", [[r["product"], r["units"]] for r in table("products.csv")])
    assert len(check(units_only)) == len(value)


def test_docx_counts_per_group(tmp_path: Path) -> None:
    import docx

    check = TASKS["dev_docx_age_groups"].check
    counts = group("survey.csv", "age_group", agg="count")
    for name, values, ok in (
        ("right", counts, True),
        ("mean", group("survey.csv", "age_group", "satisfaction", "mean"), False),
    ):
        out = _out(tmp_path, name)
        d = docx.Document()
        t = d.add_table(rows=0, cols=2)
        for k, v in values.items():
            cells = t.add_row().cells
            cells[0].text, cells[1].text = k, f"{v:g}"
        d.save(str(out / "a.docx"))
        assert (check(out) == []) is ok, name


def test_sumif_formulas_must_give_each_group_total(tmp_path: Path) -> None:
    from openpyxl import Workbook

    check = TASKS["dev_xlsx_sumif_region"].check
    rows = table("sales.csv")
    for name, formula, ok in (
        ("right", '=SUMIF(Sales!B2:B{n},"{r}",Sales!E2:E{n})', True),
        ("units", '=SUMIF(Sales!B2:B{n},"{r}",Sales!D2:D{n})', False),
    ):
        wb = Workbook()
        ws = wb.active
        ws.title = "Sales"
        ws.append(list(rows[0]))
        for r in rows:
            ws.append([r["date"], r["region"], r["product"], int(r["units"]), float(r["revenue"])])
        summary = wb.create_sheet("Summary")
        for region in sorted({r["region"] for r in rows}):
            summary.append([region, formula.format(n=len(rows) + 1, r=region)])
        out = _out(tmp_path, name)
        wb.save(str(out / "s.xlsx"))
        assert (check(out) == []) is ok, (name, check(out))


def test_native_xlsx_chart_series_are_resolved_from_their_cells(tmp_path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.chart import LineChart, Reference

    wb = Workbook()
    ws = wb.active
    ws.append(["month", "visits"])
    for i, v in enumerate([10, 12, 9], 1):
        ws.append([f"2024-0{i}", v])
    ws["B5"] = "=SUM(B2:B4)"
    chart = LineChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=4), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=4))
    ws.add_chart(chart, "D2")
    wb.save(str(tmp_path / "v.xlsx"))
    (series,) = native_series(tmp_path / "v.xlsx")
    assert series == {
        "kind": "line",
        "values": [10.0, 12.0, 9.0],
        "categories": ["2024-01", "2024-02", "2024-03"],
    }


def test_csv_top_n_and_json_counts(tmp_path: Path) -> None:
    units = group("sales.csv", "region", "units")
    revenue = group("sales.csv", "region", "revenue")
    check = TASKS["dev_csv_top3_units"].check
    for name, values, ok in (("right", units, True), ("revenue", revenue, False)):
        out = _out(tmp_path, f"csv-{name}")
        best = ordered(values)[:3]
        (out / "t.csv").write_text("region,units\n" + "".join(f"{r},{values[r]:g}\n" for r in best))
        assert (check(out) == []) is ok, name
    counts = group("sales.csv", "product", agg="count")
    check = TASKS["dev_json_product_counts"].check
    right, wrong = _out(tmp_path, "json-right"), _out(tmp_path, "json-wrong")
    (right / "c.json").write_text(json.dumps({k: int(v) for k, v in counts.items()}))
    (wrong / "c.json").write_text(json.dumps({k: int(v) + 1 for k, v in counts.items()}))
    assert check(right) == [] and len(check(wrong)) == len(counts)


@pytest.mark.parametrize(
    ("text", "want", "ok"),
    [
        ("Email | 3.71", 3.714, True),
        ("Email | 4", 3.714, False),  # rounded past what a mean needs
        ("North | 20", 20.0, True),  # a count written as a whole number
        ("West | 58,276.00", 58276.0, True),
        ("West | 58,276.00", 58.276, False),
    ],
)
def test_a_number_shows_a_value_at_the_precision_it_needs(text: str, want: float, ok: bool) -> None:
    assert any(shows(v, d, want) for v, d in numbers(text)) is ok


def test_precision_abstention_and_pass_rate_per_split() -> None:
    def rec(id: str, split: str, outcome: str, right: bool | None) -> dict[str, Any]:
        passed = outcome == "ok" and bool(right)
        return {
            "id": id, "category": "chart", "split": split, "outcome": outcome, "right": right,
            "passed": passed, "seconds": 10.0, "attempts": 1, "problems": [], "attempt_details": [],
        }  # fmt: skip

    records = [
        rec("a", "dev", "ok", True),
        rec("b", "dev", "ok", False),  # a confident wrong file
        rec("c", "dev", "unmet", True),
        rec("d", "dev", "error", None),
        rec("e", "holdout", "ok", True),
        rec("f", "holdout", "crash", None),
    ]
    s = metrics.summarise(records)
    dev, holdout = s["splits"]["dev"], s["splits"]["holdout"]
    assert (dev["precision"], dev["pass_rate"], dev["abstention"], dev["wrong"]) == (
        0.5,
        0.25,
        0.5,
        1,
    )
    assert (holdout["precision"], holdout["pass_rate"], holdout["abstention"]) == (1.0, 0.5, 0.0)
    assert s["precision"] == round(2 / 3, 3) and s["outcomes"]["crash"] == 1
