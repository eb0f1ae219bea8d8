"""Sandbox overhead benchmark (``make bench``): numbers, not assertions.

Runs, interleaved, N times each:
  (a) a matplotlib bar-chart script directly with the host's Python (the baseline),
  (b) the same script in a fresh Docker sandbox (start, inputs in, run, collect, remove),
  (c) a trivial ``print(1)`` in a fresh sandbox (the fixed cost of a sandbox),
  (d) the chart in a fresh gVisor (runsc) sandbox, when the engine has runsc,
and prints the median, p90 and the ratio of each median to (a)'s, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from promptkiln.config import load_settings
from promptkiln.pipeline import run_in_sandbox
from promptkiln.sandbox.docker import connect

CHART = b"""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(["Q1", "Q2", "Q3", "Q4"], [2.1, 2.8, 3.2, 3.9])
fig.savefig("chart.png")
"""


def host_chart() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "chart.py").write_bytes(CHART)
        subprocess.run([sys.executable, "chart.py"], cwd=tmp, check=True, capture_output=True)


def sandboxed(script: bytes, runtime: str = "") -> Callable[[], None]:
    settings = load_settings(runtime=runtime, limits={"timeout": 120})

    def go() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            run = run_in_sandbox(script, [], Path(tmp) / "out", settings)
            if run.result.exit_code != 0:
                raise SystemExit(f"sandbox run failed: {run.result.stderr.text[-500:]}")

    return go


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10, help="runs of each case (default 10)")
    args = parser.parse_args()
    cases: dict[str, Callable[[], None]] = {
        "a host python chart": host_chart,
        "b sandbox chart": sandboxed(CHART),
        "c sandbox print(1)": sandboxed(b"print(1)\n"),
    }
    if "runsc" in (connect().info().get("Runtimes") or {}):
        cases["d gVisor sandbox chart"] = sandboxed(CHART, "runsc")
    for fn in cases.values():  # warm-up: page cache, image layers, font cache
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.n):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["a host python chart"])
    print(f"{'case':<24} {'median s':>9} {'p90 s':>8} {'x (a)':>7}   (n={args.n}, interleaved)")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<24} {med:9.3f} {p90(values):8.3f} {med / base:7.2f}")


if __name__ == "__main__":
    main()
