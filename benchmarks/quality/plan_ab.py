"""The plan call alone, two ways: the compact JSON grammar against ``response_format``.

    python benchmarks/quality/plan_ab.py --out ab.jsonl [--tasks a,b,...]

For each dev task with inputs (or the ones named), ``prepare()`` — profile, plan, plan checks —
runs once with the plan's schema sent as the compact grammar and once as ``response_format``,
alternating which goes first (the second finds the request's prompt in the server's cache). One
JSON line per call: seconds, whether a plan came back, its problems and data problems, the
characters the model wrote. The summary says how many plans of each way are free of data
problems and what the calls took. Bundled model only; dev tasks only (never the holdout).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import INPUTS
from run import all_tasks

MODES = ("compact", "rf")


def _quiet(_: str) -> None:
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    ap.add_argument("--tasks", help="comma-separated dev task ids (default: every one with inputs)")
    args = ap.parse_args()

    from promptkiln.config import MAX_TOKENS_CEILING, load_settings
    from promptkiln.llm import local
    from promptkiln.llm.generate import LiteLLMGenerator
    from promptkiln.llm.json_grammar import server_takes_grammar
    from promptkiln.making.plan_step import prepare
    from promptkiln.sandbox.base import InputFile

    wanted = set(args.tasks.split(",")) if args.tasks else None
    tasks = [t for t in all_tasks("dev") if t.inputs and (wanted is None or t.id in wanted)]
    settings = load_settings(home=Path(tempfile.mkdtemp(prefix="plan-ab-")))
    params = local.local_model_params(settings, progress=_quiet)

    def generator(compact: bool) -> Any:
        return LiteLLMGenerator(
            params["model"],
            api_base=params["api_base"],
            api_key=params["api_key"],
            temperature=settings.temperature,
            max_tokens=MAX_TOKENS_CEILING,
            timeout_s=settings.request_timeout,
            extra_body=params.get("extra_body"),
            json_grammar=server_takes_grammar() if compact else None,
        )

    rows: list[dict[str, Any]] = []
    for i, t in enumerate(tasks):
        inputs = [InputFile(name, INPUTS[name]()) for name in t.inputs]
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            started = time.monotonic()
            p = prepare(t.prompt, list(t.formats), inputs, settings, generator(mode == "compact"),
                        factory=None, progress=_quiet)  # fmt: skip
            row = {
                "id": t.id,
                "mode": mode,
                "seconds": round(time.monotonic() - started, 1),
                "plan_s": round(p.timings.get("plan_s", 0.0), 1),
                "has_plan": p.plan is not None,
                "problems": len(p.problems),
                "data_problems": len(p.data_problems),
                "answer_chars": sum(len(a) for a in (p.planned.answers if p.planned else [])),
            }
            rows.append(row)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        free = sum(1 for r in mine if r["has_plan"] and not r["data_problems"])
        seconds = [r["plan_s"] for r in mine]
        print(
            f"{mode}: {free} of {len(mine)} plans free of data problems, plan calls "
            f"{sum(seconds):.0f} s in all (median {statistics.median(seconds or [0]):.1f} s), "
            f"{sum(r['answer_chars'] for r in mine):,} characters written"
        )


if __name__ == "__main__":
    main()
