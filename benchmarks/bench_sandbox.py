"""Sandbox overhead benchmark (``make bench``): numbers, not assertions.

Runs, interleaved, N times each, and reports medians and ratios against the host figures
measured in the same run:
  host chart       the matplotlib bar chart with the host's Python (the baseline)
  host pass        ``python3 -c pass`` on the host (the baseline of a trivial job)
  cold chart       the chart in a fresh sandbox started for it (the path without a pool)
  warm chart       the chart in a sandbox from the warm pool (started and warmed beforehand)
  cold print(1)    / warm print(1)   the fixed cost of a job
  gVisor ...       the same under runsc, when the engine has it
Then a per-step breakdown (create, warm, inputs, run, pause, archive, remove) of the sandboxed
cases, 20 concurrent chart jobs with the pool on and off (failures, total wall, p95), and the
memory of one warm sandbox. Warm cases wait, untimed, for the pool to refill after each job, so
no case pays for another's background work. Ends with one JSON line of the headline figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from promptkiln.config import Settings, load_settings
from promptkiln.making.pipeline import run_in_sandbox
from promptkiln.sandbox.base import Sandbox
from promptkiln.sandbox.docker import DockerSandbox, connect
from promptkiln.sandbox.pool import PooledSandbox, SandboxPool

CHART = b"""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(["Q1", "Q2", "Q3", "Q4"], [2.1, 2.8, 3.2, 3.9])
fig.savefig("chart.png")
"""
PRINT = b"print(1)\n"
STEPS = ("create_s", "warm_s", "inputs_s", "run_s", "pause_s", "archive_s", "remove_s")


def host(argv: list[str], script: bytes | None = None) -> Callable[[], None]:
    def go() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            if script is not None:
                Path(tmp, "chart.py").write_bytes(script)
            subprocess.run(argv, cwd=tmp, check=True, capture_output=True)

    return go


class Case:
    """One sandboxed case: cold (a new sandbox per job) or warm (from its own pool)."""

    def __init__(self, script: bytes, settings: Settings, pool: SandboxPool | None) -> None:
        self.script = script
        self.settings = settings
        self.pool = pool
        self.steps: dict[str, list[float]] = {k: [] for k in STEPS}
        self._last: Any = None

    def factory(self, settings: Settings, run_id: str) -> Sandbox:
        sandbox: Any = self.pool.acquire() if self.pool else DockerSandbox(settings, run_id)
        self._last = sandbox
        return sandbox  # type: ignore[no-any-return]

    def __call__(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            run = run_in_sandbox(
                self.script, [], Path(tmp) / "out", self.settings, factory=self.factory
            )
            if run.result.exit_code != 0 or (self.script is CHART and not run.artifacts):
                raise SystemExit(f"sandbox run failed: {run.result.stderr.text[-500:]}")

    def settle(self) -> None:
        """Untimed: let background removal and the pool's refill finish, keep the steps."""
        for thread in threading.enumerate():
            if thread.name == "promptkiln-pool-remove":
                thread.join()
        if self.pool is not None:
            self.pool.wait_ready()
        last = self._last
        inner = last.inner if isinstance(last, PooledSandbox) else last
        if inner is not None:
            for key in STEPS:
                if key in inner.steps:
                    self.steps[key].append(inner.steps[key])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def concurrent(settings: Settings, jobs: int, pool: SandboxPool | None) -> tuple[int, float, float]:
    case = Case(CHART, settings, pool)
    latencies: list[float] = []

    def one(_: int) -> bool:
        t0 = time.perf_counter()
        try:
            case()
            return True
        except (Exception, SystemExit) as exc:
            print(f"  concurrent job failed: {exc}", file=sys.stderr)
            return False
        finally:
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        results = list(ex.map(one, range(jobs)))
    wall = time.perf_counter() - t0
    case.settle()
    return results.count(False), wall, p95(latencies)


def warm_rss_mib(settings: Settings) -> float:
    """Memory charged to one warm, idle sandbox's cgroup (the warm interpreter, tini, sleep,
    the tmpfs pages), without the page cache of the image's files."""
    pool = SandboxPool(settings, size=1, idle_s=600)
    try:
        pool.wait_ready()
        sandbox = pool.acquire()
        try:
            stats = sandbox.inner.client.api.stats(sandbox.inner._container.id, stream=False)
            mem = stats.get("memory_stats", {})
            inactive = mem.get("stats", {}).get("inactive_file", 0)
            return float(mem.get("usage", 0) - inactive) / 2**20
        finally:
            sandbox.close()
    finally:
        pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=7, help="runs of each case (default 7)")
    parser.add_argument("--jobs", type=int, default=20, help="concurrent jobs (default 20)")
    args = parser.parse_args()
    settings = load_settings(limits={"timeout": 120})
    pools: list[SandboxPool] = []

    def pool_for(s: Settings) -> SandboxPool:
        pools.append(SandboxPool(s, size=1, idle_s=600))
        return pools[-1]

    cases: dict[str, Callable[[], None]] = {
        "host chart": host([sys.executable, "chart.py"], CHART),
        "host python3 -c pass": host([sys.executable, "-c", "pass"]),
        "cold chart": Case(CHART, settings, None),
        "warm chart": Case(CHART, settings, pool_for(settings)),
        "cold print(1)": Case(PRINT, settings, None),
        "warm print(1)": Case(PRINT, settings, pool_for(settings)),
    }
    if "runsc" in (connect().info().get("Runtimes") or {}):
        gvisor = load_settings(runtime="runsc", limits={"timeout": 120})
        cases["gVisor cold chart"] = Case(CHART, gvisor, None)
        cases["gVisor warm chart"] = Case(CHART, gvisor, pool_for(gvisor))
    try:
        for fn in cases.values():  # warm-up: page cache, image layers, font cache
            fn()
            if isinstance(fn, Case):
                fn.settle()
                fn.steps = {k: [] for k in STEPS}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.n):
            for name, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                if isinstance(fn, Case):
                    fn.settle()
    finally:
        for pool in pools:
            pool.close()
    med = {name: statistics.median(values) for name, values in times.items()}
    chart_host, pass_host = med["host chart"], med["host python3 -c pass"]
    print(f"{'case':<22} {'median s':>9} {'p95 s':>8} {'x host':>7}   (n={args.n}, interleaved)")
    for name, values in times.items():
        base = pass_host if "print" in name or "pass" in name else chart_host
        print(f"{name:<22} {med[name]:9.3f} {p95(values):8.3f} {med[name] / base:7.2f}")
    print(f"\nper-step medians, s ({', '.join(s.removesuffix('_s') for s in STEPS)}):")
    for name, fn in cases.items():
        if isinstance(fn, Case):
            cells = [f"{statistics.median(v):.3f}" if v else "-" for v in fn.steps.values()]
            print(f"  {name:<20} " + " ".join(f"{c:>7}" for c in cells))

    print(f"\n{args.jobs} concurrent chart jobs:")
    conc: dict[str, tuple[int, float, float]] = {}
    for label, size in (("pool off", 0), ("pool on", settings.pool.size or 2)):
        pool = SandboxPool(settings, size=size, idle_s=600) if size else None
        try:
            if pool is not None:
                pool.wait_ready()
            conc[label] = concurrent(settings, args.jobs, pool)
        finally:
            if pool is not None:
                pool.close()
        failures, wall, p95_s = conc[label]
        print(
            f"  {label:<9} (size {size}): {failures} failures, wall {wall:.2f} s, p95 {p95_s:.2f} s"
        )
    rss = warm_rss_mib(settings)
    print(f"\nmemory of one warm sandbox: {rss:.0f} MiB")
    print(
        json.dumps(
            {
                "chart_host_s": round(chart_host, 3),
                "chart_cold_ratio": round(med["cold chart"] / chart_host, 3),
                "chart_warm_ratio": round(med["warm chart"] / chart_host, 3),
                "print_warm_ratio": round(med["warm print(1)"] / pass_host, 3),
                "concurrent20_failures": conc["pool on"][0] + conc["pool off"][0],
                "concurrent20_p95_s": round(conc["pool on"][2], 3),
                "pool_rss_mib_per_sandbox": round(rss, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
