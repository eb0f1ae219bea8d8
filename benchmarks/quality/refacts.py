"""Recover the chart facts of a run made before the platform recorded them.

    python benchmarks/quality/refacts.py before.json --keep kept-before/ \\
        --image promptkiln-sandbox:checks
    python benchmarks/quality/run.py --recheck before.json --keep kept-before/ --out before-facts.json

A chart task of a run whose platform had no chart-facts hook is "not verified". This re-runs each
such task's delivered script (kept with ``--keep``) in a sandbox whose image has the hook, with
the same inputs, and writes what it drew next to the kept files (``out1.facts.json``), so that
``--recheck`` judges the charts the run delivered. The script runs in the real sandbox (never on
the host); only single-step tasks whose re-run saves the same chart files are given facts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from inputs import INPUTS  # noqa: E402

SIDECAR = "/home/user/.promptkiln/chart-facts.json"
WRAPPER = """
import os, shutil
try:
    exec(compile({source!r}, "main.py", "exec"), {{"__name__": "__main__"}})
finally:
    if os.path.exists({sidecar!r}):
        shutil.copy({sidecar!r}, "zz_chart_facts.json")
"""


def delivered_script(kept: Path, record: dict[str, Any]) -> Path | None:
    """The kept script of the attempt whose files were delivered: the last one without a
    problem, else the last one (delivered with unmet requirements)."""
    details: list[dict[str, Any]] = record.get("attempt_details") or []
    ok = [i for i, a in enumerate(details, 1) if not a.get("problem")]
    for i in [*reversed(ok), len(details)]:
        path = kept / str(record["id"]) / "scripts" / f"attempt-{i}.py"
        if path.is_file():
            return path
    return None


def refacts(record: dict[str, Any], task: Any, kept: Path, settings: Any) -> str:
    """Facts for one kept task; returns what happened, in a few words."""
    from promptkiln.sandbox.base import InputFile

    try:
        from promptkiln.making.pipeline import run_in_sandbox
    except ImportError:  # the layout before the rooms
        from promptkiln.pipeline import run_in_sandbox  # type: ignore[no-redef,unused-ignore]

    charts = {"png", "svg"} & set(task.formats)
    out = kept / record["id"] / "out1"
    if not charts or task.then is not None or record.get("outcome") not in ("ok", "unmet"):
        return "skipped"
    if not out.is_dir():
        return "nothing kept"
    script = delivered_script(kept, record)
    if script is None:
        return "no script kept"
    names = {p.name for ext in charts for p in out.rglob(f"*.{ext}")}
    source = script.read_text()
    wrapped = WRAPPER.format(source=source, sidecar=SIDECAR).encode()
    inputs = [InputFile(n, INPUTS[n]()) for n in task.inputs]
    with tempfile.TemporaryDirectory(prefix="pk-refacts-") as tmp:
        run_in_sandbox(wrapped, inputs, Path(tmp) / "out", settings, overwrite=True)
        got = Path(tmp) / "out" / "zz_chart_facts.json"
        if not got.is_file():
            return "the re-run recorded no facts"
        figures = json.loads(got.read_text()).get("figures") or []
        saved = {Path(str(f.get("file") or "")).name for f in figures}
        if not names <= saved:
            return f"the re-run saved {sorted(saved)}, not {sorted(names)}"
        (kept / record["id"] / "out1.facts.json").write_text(json.dumps(figures, indent=1))
    return f"facts for {', '.join(sorted(names))}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--keep", type=Path, required=True, help="where the run kept its files")
    ap.add_argument("--image", required=True, help="a sandbox image with the chart-facts hook")
    args = ap.parse_args(argv)
    from run import all_tasks

    from promptkiln.config import load_settings

    settings = load_settings().model_copy(update={"image": args.image})
    tasks = {t.id: t for t in all_tasks()}
    for record in json.loads(args.results.read_text())["tasks"]:
        if record["id"] in tasks:
            print(f"{record['id']:<32} {refacts(record, tasks[record['id']], args.keep, settings)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
