"""`make eval`: run the evaluation set against a model and judge what it made.

    python benchmarks/quality/run.py                         # the bundled model, every task
    python benchmarks/quality/run.py --model openai/qwen2.5-coder-7b --api-base http://gpu:8000/v1
    python benchmarks/quality/run.py --category pdf --category xlsx --attempts 3
    python benchmarks/quality/run.py --tasks chart_line_size,pdf_invoice --out results.json
    python benchmarks/quality/run.py --compare before.json after.json
    python benchmarks/quality/run.py --tasks ... --out r.json --keep kept/   # keep the files
    python benchmarks/quality/run.py --recheck r.json --keep kept/ --out r2.json  # judge again
    python benchmarks/quality/run.py --list

Each task runs through the real pipeline (promptkiln.making.sessions.run_turn: generation, sandbox,
validation, repair, delivery) into its own directory, with its own promptkiln home, and its
checker judges the delivered files' content. Printed: pass rate per category, time and attempts
per task, and how often attempt N+1 failed on the same line with the same exception as attempt
N. The results are written as JSON (``--out``, default ``benchmarks/quality/results/<time>.json``)
so runs can be compared.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from inputs import INPUTS  # noqa: E402
from task import Task  # noqa: E402


def all_tasks() -> list[Task]:
    import tasks_charts
    import tasks_data
    import tasks_office
    import tasks_pdf
    import tasks_xlsx

    tasks = [
        *tasks_charts.TASKS,
        *tasks_pdf.TASKS,
        *tasks_xlsx.TASKS,
        *tasks_office.TASKS,
        *tasks_data.TASKS,
    ]
    ids = [t.id for t in tasks]
    assert len(ids) == len(set(ids)), "task ids must be unique"
    return tasks


def select(tasks: list[Task], ids: str | None, categories: list[str]) -> list[Task]:
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {t.id for t in tasks})
        if unknown:
            raise SystemExit(f"error: unknown task ids: {', '.join(unknown)} (see --list)")
        tasks = [t for t in tasks if t.id in wanted]
    if categories:
        tasks = [t for t in tasks if t.category in categories]
    return tasks


def _attempt_rows(attempts: list[Any]) -> list[dict[str, Any]]:
    """Per-attempt details; older pipelines (for a baseline run) only have number and problem."""
    rows = []
    for a in attempts:
        if a is None:  # a baseline's failed turn: only the count is known
            rows.append({"number": len(rows) + 1, "problem": "failed"})
        elif hasattr(a, "to_dict"):
            rows.append(a.to_dict())
        else:
            rows.append(
                {"number": a.number, "problem": a.problem, "generation_s": round(a.generation_s, 2)}
            )
    return rows


def run_task(t: Task, settings: Any, workdir: Path, progress: Any) -> dict[str, Any]:
    """Run one task (and its follow-up turn) and judge it; never raises for a model failure."""
    from promptkiln.errors import PromptkilnError
    from promptkiln.making.sessions import run_turn

    inputs_dir = workdir / "inputs"
    inputs_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in t.inputs:
        (inputs_dir / name).write_bytes(INPUTS[name]())
        paths.append(inputs_dir / name)
    record: dict[str, Any] = {"id": t.id, "category": t.category, "passed": False}
    attempts: list[Any] = []
    started = time.monotonic()
    steps = [(t.prompt, t.formats, t.check)]
    if t.then is not None:
        steps.append((t.then.prompt, t.then.formats, t.then.check))
    session = None
    problems: list[str] = []
    import inspect

    hook = {"on_attempt": attempts.append}
    if "on_attempt" not in inspect.signature(run_turn).parameters:  # a baseline's older pipeline
        hook = {}
    for number, (prompt, formats, check) in enumerate(steps, 1):
        out = workdir / f"out{number}"
        try:
            turn = run_turn(
                prompt,
                session=session,
                formats=list(formats),
                inputs=paths if number == 1 else [],
                out=out,
                settings=settings,
                progress=progress,
                **hook,
            )
            session = turn.session_id
            record["warnings"] = list(getattr(turn.result, "warnings", []))
            if not hook:
                attempts.extend(turn.result.attempts)
        except PromptkilnError as exc:
            problems = [f"step {number}: {type(exc).__name__}: {exc.message}"]
            if not hook:
                attempts.extend([None] * int(getattr(exc, "attempts", 1) or 1))
            break
        except Exception as exc:  # a checker or platform bug: keep going with the next task
            problems = [f"step {number}: crashed: {type(exc).__name__}: {exc}"]
            break
        try:
            problems = [f"step {number}: {p}" for p in check(out)]
        except Exception as exc:
            problems = [
                f"step {number}: the checker could not read the files: {type(exc).__name__}: {exc}"
            ]
        if problems:
            break
    _write_scripts(workdir / "scripts", attempts)
    record.update(
        passed=not problems,
        problems=problems,
        seconds=round(time.monotonic() - started, 1),
        attempts=len({getattr(a, "number", i) for i, a in enumerate(attempts)}),
        attempt_details=_attempt_rows(attempts),
    )
    return record


def _write_scripts(where: Path, attempts: list[Any]) -> None:
    """Each attempt's script and what went wrong with it, kept with ``--keep`` for reading."""
    for i, a in enumerate(attempts, 1):
        if a is None or (getattr(a, "script", None) is None and not getattr(a, "response", "")):
            continue
        where.mkdir(parents=True, exist_ok=True)
        body = a.script if a.script is not None else a.response
        (where / f"attempt-{i}.py").write_text(body)
        run = getattr(a, "run", None)
        stderr = run.result.stderr.text[-3000:] if run is not None else ""
        (where / f"attempt-{i}.txt").write_text(f"{a.problem or 'ok'}\n\n{stderr}")


def same_line_rate(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(pairs where attempt N+1 failed like attempt N, pairs of consecutive failed attempts)."""
    same = pairs = 0
    for r in records:
        details = r.get("attempt_details", [])
        for a, b in itertools.pairwise(details):
            if a["problem"] and b["problem"]:
                pairs += 1
                if b.get("same_failure_as_previous") or b.get("repeated_script"):
                    same += 1
    return same, pairs


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_cat[r["category"]].append(r)
    same, pairs = same_line_rate(records)
    return {
        "tasks": len(records),
        "passed": sum(r["passed"] for r in records),
        "pass_rate": round(sum(r["passed"] for r in records) / max(1, len(records)), 3),
        "categories": {
            c: {
                "tasks": len(rs),
                "passed": sum(r["passed"] for r in rs),
                "pass_rate": round(sum(r["passed"] for r in rs) / len(rs), 3),
            }
            for c, rs in sorted(by_cat.items())
        },
        "seconds_median": sorted(r["seconds"] for r in records)[len(records) // 2]
        if records
        else 0,
        "seconds_max": max((r["seconds"] for r in records), default=0),
        "over_3_minutes": [r["id"] for r in records if r["seconds"] > 180],
        "attempts_mean": round(sum(r["attempts"] for r in records) / max(1, len(records)), 2),
        # tasks won by a 2nd..Nth sampled candidate (--candidates): where sampling paid off
        "candidate_wins": sum(
            1
            for r in records
            if r["passed"]
            and any(a.get("chosen") and a.get("candidate", 0) > 1 for a in r["attempt_details"])
        ),
        "same_failure_pairs": same,
        "failed_pairs": pairs,
    }


def print_summary(summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
    print("\ntask                         result  seconds  attempts  problem")
    for r in records:
        first = r["problems"][0][:70] if r["problems"] else ""
        print(
            f"{r['id']:<28} {'pass' if r['passed'] else 'FAIL':<6} {r['seconds']:>8.1f} "
            f"{r['attempts']:>9}  {first}"
        )
    print("\ncategory     passed / tasks   rate")
    for cat, c in summary["categories"].items():
        print(f"{cat:<12} {c['passed']:>6} / {c['tasks']:<6} {c['pass_rate'] * 100:5.0f} %")
    print(
        f"{'all':<12} {summary['passed']:>6} / {summary['tasks']:<6} "
        f"{summary['pass_rate'] * 100:5.0f} %"
    )
    print(
        f"time per task: median {summary['seconds_median']:.0f} s, max "
        f"{summary['seconds_max']:.0f} s; over 3 minutes: {summary['over_3_minutes'] or 'none'}"
    )
    print(
        f"attempts per task: {summary['attempts_mean']}; attempt N+1 failed like attempt N: "
        f"{summary['same_failure_pairs']} of {summary['failed_pairs']} failed pairs"
    )


def compare(old_path: Path, new_path: Path) -> None:
    old, new = (json.loads(p.read_text()) for p in (old_path, new_path))
    print(f"{'category':<12} {'before':>8} {'after':>8}")
    cats = sorted(set(old["summary"]["categories"]) | set(new["summary"]["categories"]))
    for c in cats:
        a = old["summary"]["categories"].get(c, {}).get("pass_rate")
        b = new["summary"]["categories"].get(c, {}).get("pass_rate")
        fmt = lambda v: "-" if v is None else f"{v * 100:.0f} %"  # noqa: E731
        print(f"{c:<12} {fmt(a):>8} {fmt(b):>8}")
    print(
        f"{'all':<12} {old['summary']['pass_rate'] * 100:>6.0f} % {new['summary']['pass_rate'] * 100:>6.0f} %"
    )
    before = {r["id"]: r["passed"] for r in old["tasks"]}
    for r in new["tasks"]:
        if r["id"] in before and before[r["id"]] != r["passed"]:
            print(f"  {r['id']}: {'FAIL -> pass' if r['passed'] else 'pass -> FAIL'}")


def recheck(results: Path, kept: Path | None, out: Path | None) -> int:
    """Re-judge ``results`` with the current checkers on the files kept in ``kept``."""
    from recheck import rejudge

    if kept is None:
        raise SystemExit("error: --recheck needs --keep DIR (where the run kept its files)")
    doc = json.loads(results.read_text())
    tasks = {t.id: t for t in all_tasks()}
    doc["tasks"] = [
        rejudge(r, tasks[r["id"]], kept) if r["id"] in tasks else r for r in doc["tasks"]
    ]
    doc["summary"] = summarise(doc["tasks"])
    doc["rechecked_with"] = _commit()
    (out or results).write_text(json.dumps(doc, indent=2))
    print_summary(doc["summary"], doc["tasks"])
    return 0


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="litellm model string (default: bundled model)")
    ap.add_argument("--api-base", default=None)
    ap.add_argument("--attempts", type=int, default=None)
    ap.add_argument(
        "--candidates", type=int, default=None, help="sampled scripts for the first attempt"
    )
    ap.add_argument("--tasks", default=None, help="comma-separated task ids")
    ap.add_argument("--category", action="append", default=[])
    ap.add_argument("--out", type=Path, default=None, help="results JSON")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="copy delivered files here")
    ap.add_argument(
        "--recheck", type=Path, default=None, help="judge a results file's --keep files again"
    )
    ap.add_argument("--verbose", "-v", action="store_true", help="show the pipeline's progress")
    args = ap.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    if args.recheck:
        return recheck(args.recheck, args.keep, args.out)
    tasks = select(all_tasks(), args.tasks, args.category)
    if args.list:
        for t in tasks:
            print(f"{t.id:<28} {t.category:<8} {' '.join(t.formats):<9} {t.prompt[:80]}")
        return 0
    from promptkiln.config import load_settings

    out_path = args.out or HERE / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pk-eval-") as tmp:
        os.environ["PROMPTKILN_HOME"] = str(Path(tmp) / "home")  # sessions of the eval only
        settings = load_settings(
            model=args.model,
            api_base=args.api_base,
            attempts=args.attempts,
            candidates=args.candidates,
        )
        model = settings.model or "bundled"
        print(
            f"evaluating {len(tasks)} tasks with {model}, {settings.attempts} attempts each, "
            f"{settings.candidates} candidate(s) for the first"
        )
        for i, t in enumerate(tasks, 1):
            progress = (
                (lambda m: print(f"    {m}", flush=True)) if args.verbose else (lambda m: None)
            )
            print(
                f"[{i}/{len(tasks)}] {t.id} ...", end="" if not args.verbose else "\n", flush=True
            )
            rec = run_task(t, settings, Path(tmp) / t.id, progress)
            if args.keep:
                from recheck import keep

                keep(Path(tmp) / t.id, args.keep / t.id)
            records.append(rec)
            print(
                f" {'pass' if rec['passed'] else 'FAIL'} in {rec['seconds']:.0f} s, "
                f"{rec['attempts']} attempt(s)",
                flush=True,
            )
            summary = summarise(records)
            result = {
                "model": model,
                "api_base": settings.api_base,
                "candidates": settings.candidates,
                "commit": _commit(),
                "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "machine": platform.node(),
                "cpus": os.cpu_count(),
                "summary": summary,
                "tasks": records,
            }
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(result, indent=2))  # kept up to date as it runs
    print_summary(summarise(records), records)
    print(f"\nresults: {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
