"""What `make eval` reports, per split and per category.

Each task ends in one outcome: ``ok`` (a success: exit 0 / status ok), ``unmet`` (files with a
named unmet check, not a success), ``error`` (a clear error: nothing delivered) or ``crash`` (a
platform or harness bug). Its checker then says whether the files are right.

- pass rate: right successes / tasks
- precision: right successes / successes (a success is right) — the first number
- abstention: (unmet + error) / tasks (it said it could not, instead of delivering)
- wrong: successes the checker rejects (confidently wrong files)
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

OUTCOMES = ("ok", "unmet", "error", "crash")


def outcome(r: dict[str, Any]) -> str:
    """A record's outcome; a record of an older harness (no outcome) that passed was a success,
    one that failed is unknown ("?")."""
    return str(r.get("outcome") or ("ok" if r.get("passed") else "?"))


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def block(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of one group of task records."""
    n = len(records)
    ok = [r for r in records if outcome(r) == "ok"]
    right = sum(1 for r in ok if r["passed"])
    abstained = sum(1 for r in records if outcome(r) in ("unmet", "error"))
    seconds = sorted(r["seconds"] for r in records)
    return {
        "tasks": n,
        "passed": sum(1 for r in records if r["passed"]),
        "pass_rate": _rate(sum(1 for r in records if r["passed"]), n),
        "successes": len(ok),
        "precision": _rate(right, len(ok)),
        "wrong": len(ok) - right,
        "abstained": abstained,
        "abstention": _rate(abstained, n),
        "outcomes": {o: sum(1 for r in records if outcome(r) == o) for o in (*OUTCOMES, "?")},
        "seconds_median": seconds[n // 2] if n else 0,
        "seconds_mean": round(sum(seconds) / n, 1) if n else 0,
        "seconds_max": max(seconds, default=0),
        "attempts_mean": round(sum(r["attempts"] for r in records) / max(1, n), 2),
        # the plan call of a request's first turn, where the run returned its timings
        "plan_s_median": _median(
            [
                r["timings"][0]["plan_s"]
                for r in records
                if "plan_s" in (r.get("timings") or [{}])[0]
            ]
        ),
    }


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    return values[len(values) // 2] if values else None


def same_line_rate(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(pairs where attempt N+1 failed like attempt N, pairs of consecutive failed attempts)."""
    same = pairs = 0
    for r in records:
        for a, b in itertools.pairwise(r.get("attempt_details", [])):
            if a["problem"] and b["problem"]:
                pairs += 1
                if b.get("same_failure_as_previous") or b.get("repeated_script"):
                    same += 1
    return same, pairs


def _by(records: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[str(r.get(key) or "dev")].append(r)
    return dict(sorted(groups.items()))


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    same, pairs = same_line_rate(records)
    summary = block(records)
    summary.update(
        categories={c: block(rs) for c, rs in _by(records, "category").items()},
        splits={
            s: {**block(rs), "categories": {c: block(x) for c, x in _by(rs, "category").items()}}
            for s, rs in _by(records, "split").items()
        },
        over_3_minutes=[r["id"] for r in records if r["seconds"] > 180],
        # tasks won by a 2nd..Nth sampled candidate (--candidates): where sampling paid off
        candidate_wins=sum(
            1
            for r in records
            if r["passed"]
            and any(
                a.get("chosen") and a.get("candidate", 0) > 1 for a in r.get("attempt_details", [])
            )
        ),
        same_failure_pairs=same,
        failed_pairs=pairs,
    )
    return summary


def pct(v: float | None) -> str:
    return "    -" if v is None else f"{v * 100:4.0f}%"


def _row(name: str, b: dict[str, Any]) -> str:
    return (
        f"{name:<12} {b['tasks']:>5} {pct(b['precision']):>9} {pct(b['pass_rate']):>6} "
        f"{pct(b['abstention']):>10} {b['wrong']:>5} {b['seconds_median']:>8.0f} "
        f"{b['seconds_max']:>6.0f} {b['attempts_mean']:>8.2f}"
    )


HEADER = (
    f"{'':<12} {'tasks':>5} {'precision':>9} {'pass':>6} {'abstention':>10} {'wrong':>5} "
    f"{'median s':>8} {'max s':>6} {'attempts':>8}"
)


def print_summary(summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
    print("\ntask                         split    outcome right seconds attempts  problem")
    for r in records:
        first = r["problems"][0][:60] if r["problems"] else ""
        right = {True: "yes", False: "no", None: "-"}[r.get("right")]
        print(
            f"{r['id']:<28} {r.get('split', 'dev'):<8} {outcome(r):<7} {right:<5} "
            f"{r['seconds']:>7.1f} {r['attempts']:>8}  {first}"
        )
    for split, s in summary.get("splits", {}).items():
        print(f"\nsplit {split}\n{HEADER}")
        for cat, c in s["categories"].items():
            print(_row(cat, c))
        print(_row("all", s))
    print(f"\n{HEADER}\n{_row('everything', summary)}")
    print(
        "precision = right / successes; pass = right successes / tasks; abstention = (unmet + "
        "clear error) / tasks; wrong = successes whose files are not right"
    )
    print(f"over 3 minutes: {summary['over_3_minutes'] or 'none'}")
    print(
        f"attempt N+1 failed like attempt N: {summary['same_failure_pairs']} of "
        f"{summary['failed_pairs']} failed pairs"
    )


def compare(old_path: Path, new_path: Path) -> None:
    """Before and after, on the tasks both runs have, per split and category."""
    old, new = (json.loads(p.read_text()) for p in (old_path, new_path))
    common = {r["id"] for r in old["tasks"]} & {r["id"] for r in new["tasks"]}
    splits = {r["id"]: r.get("split", "dev") for r in new["tasks"]}
    a = summarise([{**r, "split": splits[r["id"]]} for r in old["tasks"] if r["id"] in common])
    b = summarise([r for r in new["tasks"] if r["id"] in common])
    print(f"{len(common)} tasks in both runs")
    print(f"{'':<20} {'precision':>19} {'pass':>15} {'abstention':>15}")
    for split, sb in b["splits"].items():
        sa = a["splits"].get(split, {"categories": {}})
        for cat, cb in [*sb["categories"].items(), ("all", sb)]:
            ca = sa if cat == "all" else sa["categories"].get(cat, {})
            cells = [
                f"{pct(ca.get(k))} -> {pct(cb[k])}"
                for k in ("precision", "pass_rate", "abstention")
            ]
            print(f"{split + ' ' + cat:<20} {cells[0]:>19} {cells[1]:>15} {cells[2]:>15}")
    before = {r["id"]: r["passed"] for r in old["tasks"]}
    for r in new["tasks"]:
        if r["id"] in before and before[r["id"]] != r["passed"]:
            print(f"  {r['id']}: {'FAIL -> pass' if r['passed'] else 'pass -> FAIL'}")
