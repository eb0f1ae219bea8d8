"""The evaluation set's own parts: every checker can fail, the formula evaluator is right, and
the task list is well-formed. (The end-to-end smoke run is tests/integration/test_eval_smoke.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

QUALITY = Path(__file__).resolve().parents[3] / "benchmarks" / "quality"
sys.path.insert(0, str(QUALITY))

import run as eval_run  # noqa: E402
from formula import evaluate_workbook  # noqa: E402
from inputs import INPUTS  # noqa: E402

TASKS = eval_run.all_tasks()


def test_the_set_covers_what_users_ask_for() -> None:
    assert len(TASKS) >= 40
    cats = {t.category for t in TASKS}
    assert cats >= {"chart", "pdf", "xlsx", "docx", "pptx", "data", "multi", "session"}
    formats = {f for t in TASKS for f in t.formats}
    assert formats >= {"png", "svg", "pdf", "xlsx", "docx", "pptx", "csv", "json", "parquet"}
    assert all(name in INPUTS for t in TASKS for name in t.inputs)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_checker_fails_on_an_empty_result(task: eval_run.Task, tmp_path: Path) -> None:
    assert task.check(tmp_path), f"{task.id}'s checker passes with no files at all"
    if task.then is not None:
        assert task.then.check(tmp_path)


def test_inputs_are_deterministic() -> None:
    assert all(gen() == gen() for gen in INPUTS.values())


def test_formula_evaluator(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Data"
    for row in (["a", 10], ["b", 20], ["c", 30.5]):
        ws.append(row)
    ws["B4"] = "=SUM(B1:B3)"
    ws["B5"] = "=AVERAGE($B$1:$B$3)*2-1"
    ws["B6"] = "=ROUND(B2/B4, 3)"
    ws["B7"] = "=IF(B4>50, MAX(B1:B3), MIN(B1:B3))"
    ws["B8"] = "=B4 + UNKNOWN(1)"
    summary = wb.create_sheet("My Summary")
    summary["A1"] = "='Data'!B4*10%"
    summary["A2"] = "=COUNT(Data!B1:B3)"
    values = evaluate_workbook(wb)
    assert values[("Data", "B4")] == 60.5
    assert abs(values[("Data", "B5")] - (60.5 / 3 * 2 - 1)) < 1e-9
    assert values[("Data", "B6")] == round(20 / 60.5, 3)
    assert values[("Data", "B7")] == 30.5
    assert values[("Data", "B8")] is None  # unsupported: None, never an exception
    assert values[("My Summary", "A1")] == pytest.approx(6.05)
    assert values[("My Summary", "A2")] == 3.0


def test_formula_evaluator_survives_cycles_and_huge_ranges() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws["A1"] = "=A2"
    ws["A2"] = "=A1"
    ws["B1"] = "=SUM(A1:ZZZ999999)"
    values = evaluate_workbook(wb)
    assert values[(ws.title, "A1")] is None and values[(ws.title, "B1")] is None


def test_outcome_and_chart_facts_are_read_from_the_turn() -> None:
    from types import SimpleNamespace as NS

    figure = {"file": "c.png", "suptitle": "", "axes": [{"title": "Revenue"}]}
    first = NS(script="a", run=NS(chart_facts=[{"file": "c.png", "axes": [{"title": "old"}]}]))
    chosen = NS(script="b", run=NS(chart_facts=[figure]))
    turn = NS(result=NS(script="b", attempts=[first, chosen], status="unmet"))
    assert eval_run.collect_facts(turn) == [figure]  # the delivered attempt's, not the first's
    assert eval_run.turn_status(turn) == "unmet"
    assert eval_run.turn_status(NS(result=NS(script="b", attempts=[]))) == "ok"  # older pipeline
    assert eval_run.collect_facts(NS(result=NS(script="b", attempts=[]))) == []


def test_the_splits_are_disjoint_and_big_enough() -> None:
    dev, holdout = eval_run.all_tasks("dev"), eval_run.all_tasks("holdout")
    assert len(dev) >= 60 and len(holdout) >= 40
    assert not {t.id for t in dev} & {t.id for t in holdout}
    assert {t.split for t in dev} == {"dev"} and {t.split for t in holdout} == {"holdout"}
    assert len(TASKS) == len(dev) + len(holdout) >= 100
