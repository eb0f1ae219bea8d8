"""`run.py --recheck`: kept files are judged again by the current checkers; a task that
delivered nothing keeps its verdict."""

from __future__ import annotations

import json
import sys
from pathlib import Path

QUALITY = Path(__file__).resolve().parents[3] / "benchmarks" / "quality"
sys.path.insert(0, str(QUALITY))

import run as eval_run  # noqa: E402
from tasks_pdf import sales_totals  # noqa: E402


def test_recheck_rejudges_kept_files_and_keeps_undelivered_verdicts(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    (kept / "csv_groupby" / "out1").mkdir(parents=True)
    rows = ["region,total"] + [f'{r},"{t:,.2f}"' for r, t in sales_totals().items()]
    (kept / "csv_groupby" / "out1" / "t.csv").write_text("\n".join(rows) + "\n")
    (kept / "csv_filter_sort" / "out1").mkdir(parents=True)
    (kept / "csv_filter_sort" / "out1" / "p.csv").write_text("product,units\nnothing,1\n")
    base = {"seconds": 10.0, "attempts": 1, "attempt_details": []}
    results = {
        "model": "m",
        "commit": "c",
        "tasks": [
            {"id": "csv_groupby", "category": "data", "passed": False, "problems": ["old"], **base},
            {"id": "csv_filter_sort", "category": "data", "passed": True, "problems": [], **base},
            {"id": "json_summary", "category": "data", "passed": False, "problems": ["x"], **base},
        ],
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(results))
    assert (
        eval_run.main(
            ["--recheck", str(path), "--keep", str(kept), "--out", str(tmp_path / "r2.json")]
        )
        == 0
    )
    doc = json.loads((tmp_path / "r2.json").read_text())
    by_id = {t["id"]: t for t in doc["tasks"]}
    assert by_id["csv_groupby"]["passed"] and by_id["csv_groupby"]["rechecked"]
    assert not by_id["csv_filter_sort"]["passed"] and by_id["csv_filter_sort"]["rechecked"]
    assert by_id["json_summary"] == {**results["tasks"][2], "rechecked": False}
    assert doc["summary"]["passed"] == 1


def test_keep_copies_each_steps_files_but_not_the_inputs(tmp_path: Path) -> None:
    from recheck import keep

    work = tmp_path / "work"
    for sub, name in (("inputs", "sales.csv"), ("out1", "a.png"), ("out2", "b.csv")):
        (work / sub).mkdir(parents=True)
        (work / sub / name).write_text(name)
    keep(work, tmp_path / "kept" / "t")
    got = sorted(
        p.relative_to(tmp_path / "kept").as_posix() for p in (tmp_path / "kept").rglob("*.*")
    )
    assert got == ["t/out1/a.png", "t/out2/b.csv"]
