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
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from inputs import INPUTS  # noqa: E402
from metrics import compare, print_summary, summarise  # noqa: E402
from task import Task  # noqa: E402

DEV_MODULES = ("tasks_charts", "tasks_pdf", "tasks_xlsx", "tasks_office", "tasks_data", "dev_tasks")
#: The holdout split: run only to report, never read while changing the platform.
HOLDOUT_MODULES = ("holdout_tasks", "holdout_tasks_docs", "holdout_tasks_xlsx")


def all_tasks(split: str = "all") -> list[Task]:
    """The tasks of ``split`` ("dev", "holdout" or "all"), each marked with its split."""
    import dataclasses
    import importlib

    modules = {"dev": DEV_MODULES, "holdout": HOLDOUT_MODULES}
    tasks = [
        dataclasses.replace(t, split=name)
        for name, mods in modules.items()
        if split in (name, "all")
        for m in mods
        for t in importlib.import_module(m).TASKS
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
        by_id = {t.id: t for t in tasks}
        tasks = [by_id[i] for i in dict.fromkeys(wanted)]  # in the order given
    if categories:
        tasks = [t for t in tasks if t.category in categories]
    return tasks


def _attempt_rows(attempts: list[Any]) -> list[dict[str, Any]]:
    """Per-attempt details; older pipelines (for a baseline run) only have number and problem."""
    rows: list[dict[str, Any]] = []
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
    """Run one task (and its follow-up turn) and judge it; never raises for a model failure.

    The outcome is the pipeline's: ``ok`` (a success), ``unmet`` (files delivered with an unmet
    check: not a success), ``error`` (a clear error), ``crash``. The checker judges whatever
    files there are (``right``); the task passes when it is a success and right."""
    from promptkiln.errors import PromptkilnError

    run_turn = _run_turn()
    if "accept_unmet" in type(settings).model_fields:
        # files that fail a check are still judged (the outcome stays "unmet")
        settings = settings.model_copy(update={"accept_unmet": True})

    inputs_dir = workdir / "inputs"
    inputs_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in t.inputs:
        (inputs_dir / name).write_bytes(INPUTS[name]())
        paths.append(inputs_dir / name)
    record: dict[str, Any] = {"id": t.id, "category": t.category, "split": t.split}
    attempts: list[Any] = []
    started = time.monotonic()
    steps = [(t.prompt, t.formats, t.check)]
    if t.then is not None:
        steps.append((t.then.prompt, t.then.formats, t.then.check))
    session = None
    problems: list[str] = []
    result = "ok"
    right: bool | None = None
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
            result = turn_status(turn)
            write_facts(out, collect_facts(turn))
            write_plan(out, getattr(turn.result, "plan", None))
            step_timings = getattr(turn.result, "timings", None) or {}
            record.setdefault("timings", []).append(
                {k: round(float(v), 2) for k, v in step_timings.items()}
            )
            if not hook:
                attempts.extend(turn.result.attempts)
        except PromptkilnError as exc:
            result = "unmet" if is_unmet(exc) else "error"
            problems = [f"step {number}: {type(exc).__name__}: {exc.message}"]
            write_facts(out, collect_facts(exc))
            if not hook:
                attempts.extend([None] * int(getattr(exc, "attempts", 1) or 1))
        except Exception as exc:  # a checker or platform bug: keep going with the next task
            result = "crash"
            problems = [f"step {number}: crashed: {type(exc).__name__}: {exc}"]
            break
        if result == "error" or not out.is_dir():
            right = None
            break
        try:
            found = [f"step {number}: {p}" for p in check(out)]
        except Exception as exc:
            found = [
                f"step {number}: the checker could not read the files: {type(exc).__name__}: {exc}"
            ]
        right = (right is not False) and not found  # every step's files must be right
        problems = problems + found
        if result != "ok":
            break  # a follow-up turn only after a success (a wrong one is still judged)
    _write_scripts(workdir / "scripts", attempts)
    record.update(
        outcome=result,
        right=right,
        passed=result == "ok" and bool(right) and not problems,
        problems=problems,
        seconds=round(time.monotonic() - started, 1),
        attempts=len({getattr(a, "number", i) for i, a in enumerate(attempts)}),
        attempt_details=_attempt_rows(attempts),
    )
    return record


def _run_turn() -> Any:
    """The pipeline's run_turn, wherever this checkout keeps it (the rooms layout or before)."""
    try:
        from promptkiln.making.sessions import run_turn
    except ImportError:  # the layout before the rooms (promptkiln/making.py, sessions.py)
        from promptkiln.sessions import run_turn  # type: ignore[no-redef,unused-ignore]
    return run_turn


def turn_status(turn: Any) -> str:
    """ "ok" or "unmet": the platform's status of a returned turn (older pipelines: "ok")."""
    for obj in (turn, getattr(turn, "result", None)):
        status = getattr(obj, "status", None)
        if isinstance(status, str) and status:
            return "ok" if status == "ok" else "unmet"
    return "ok"


def is_unmet(exc: Exception) -> bool:
    return getattr(exc, "status", None) == "unmet" or "unmet" in type(exc).__name__.lower()


def collect_facts(obj: Any) -> list[dict[str, Any]]:
    """The chart facts the platform recorded for a turn's delivered files: the winning
    attempt's ``run.chart_facts`` (branch ``checks``), else any ``chart_facts``/``facts`` on the
    result, its files or its attempts' runs."""
    result = getattr(obj, "result", None)
    script = getattr(result, "script", None)
    for a in reversed(getattr(result, "attempts", None) or []):
        run = getattr(a, "run", None)
        if run is not None and getattr(a, "script", None) == script:
            chosen = getattr(run, "chart_facts", None)
            if isinstance(chosen, list):
                return [f for f in chosen if isinstance(f, dict)]
    found: list[dict[str, Any]] = []
    seen: set[int] = set()

    def visit(o: Any, depth: int) -> None:
        if o is None or depth > 4 or id(o) in seen:
            return
        seen.add(id(o))
        for name in ("chart_facts", "facts"):
            v = o.get(name) if isinstance(o, dict) else getattr(o, name, None)
            if isinstance(v, dict):
                v = v.get("figures") or v.get("charts") or ([v] if "axes" in v else [])
            if isinstance(v, list):
                found.extend(x for x in v if isinstance(x, dict) and "axes" in x)
        for name in ("result", "run", "files", "attempts", "artifacts", "record"):
            v = o.get(name) if isinstance(o, dict) else getattr(o, name, None)
            for item in v if isinstance(v, list) else [v]:
                if item is not None and not isinstance(item, (str, bytes, int, float)):
                    visit(item, depth + 1)

    visit(obj, 0)
    return found


def write_facts(out: Path, found: list[dict[str, Any]]) -> None:
    from facts import sidecar

    if found:
        sidecar(out).write_text(json.dumps(found, indent=1, default=str))


def write_plan(out: Path, plan: Any) -> None:
    """The checked plan beside the files (``out1.plan.json``), kept with ``--keep``: a later
    change to the plan checks can be replayed on it."""
    if plan is not None and hasattr(plan, "model_dump_json"):
        out.with_name(out.name + ".plan.json").write_text(
            plan.model_dump_json(exclude_defaults=True)
        )


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


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


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
    ap.add_argument(
        "--split",
        choices=("dev", "holdout", "all"),
        default="all",
        help="dev: to iterate on; holdout: run only to report (default: all)",
    )
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
    tasks = select(all_tasks(args.split), args.tasks, args.category)
    if args.list:
        for t in tasks:
            print(
                f"{t.id:<28} {t.split:<8} {t.category:<8} {' '.join(t.formats):<9} {t.prompt[:70]}"
            )
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
                f" {'pass' if rec['passed'] else 'FAIL'} ({rec['outcome']}, right: "
                f"{rec['right']}) in {rec['seconds']:.0f} s, {rec['attempts']} attempt(s)",
                flush=True,
            )
            summary = summarise(records)
            result = {
                "model": model,
                "api_base": settings.api_base,
                "candidates": settings.candidates,
                "split": args.split,
                "load": _load(),
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
