"""A data file that lists input rows names the plan's columns: real CSV, JSON and XLSX files."""

from __future__ import annotations

import json
from pathlib import Path

from openpyxl import Workbook

from promptkiln.checks.content_columns import listed_columns
from promptkiln.checks.facts import file_facts
from promptkiln.checks.requirements import how_to_meet
from promptkiln.plan import Plan

KNOWN = ["name", "department", "hire_date", "salary"]
ROWS = [{"name": "Ann", "department": "Sales", "hire_date": "2021-03-01"}]


def plan(name: str, **table: object) -> Plan:
    columns = ["name", "department", "Hire Date"]
    return Plan.model_validate(
        {"files": [{"name": name, "title": "Hires", "input": "employees.csv",
                    "tables": [{"columns": columns, **table}]}]}
    )  # fmt: skip


def judge(path: Path, planned: Plan) -> list[tuple[bool, str]]:
    facts = {path.name: file_facts(path, path.suffix.lstrip("."))}
    return [(o.met, o.detail) for o in listed_columns(planned, facts, KNOWN)]


def test_the_rows_with_their_columns_pass_in_each_data_format(tmp_path: Path) -> None:
    (tmp_path / "h.json").write_text(json.dumps({"employees": ROWS}))
    (tmp_path / "h.csv").write_text("Employee name,Department,hire date\nAnn,Sales,2021-03-01\n")
    wb = Workbook()
    wb.active.append(["name", "department", "hire_date"])
    wb.active.append(["Ann", "Sales", "2021-03-01"])
    wb.save(tmp_path / "h.xlsx")
    for name in ("h.json", "h.csv", "h.xlsx"):
        assert judge(tmp_path / name, plan(name)) == [(True, "")], name


def test_a_file_that_holds_something_else_fails(tmp_path: Path) -> None:
    dumped = {"files": [{"name": "h.json", "title": "Hires", "tables": [{"columns": KNOWN}]}]}
    (tmp_path / "h.json").write_text(json.dumps(dumped))
    [(met, detail)] = judge(tmp_path / "h.json", plan("h.json"))
    assert not met
    assert detail == "it has no department, hire_date (its columns: name, title, tables)"
    outcome = listed_columns(plan("h.json"), {"h.json": file_facts(tmp_path / "h.json", "json")},
                             KNOWN)[0]  # fmt: skip
    assert 'orient="records"' in how_to_meet(outcome.requirement, ["json"])


def test_grouped_tables_and_documents_are_not_this_checks(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("department,n\nSales,3\n")
    assert judge(tmp_path / "h.csv", plan("h.csv", group="department", agg="count")) == []
    assert listed_columns(plan("h.pdf"), {"h.pdf": {"kind": "pdf", "text": "x"}}, KNOWN) == []
    assert listed_columns(None, {}, KNOWN) == []
