"""The E2B-protocol rows of ``make bench-server``: the real ``e2b`` SDK against ``promptkiln
serve``. Sandbox create -> first output of a command (p50/p95) while the warm pool has a
sandbox ready, and cold (``--e2b-pool 0``); then N sandboxes created, used and killed at once
(failures counted). Numbers, not assertions."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import docker


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _first_output(url: str, key: str) -> float:
    """Seconds from ``Sandbox.create`` to the first stdout of ``echo ready``; kills it."""
    from e2b import Sandbox

    first: list[float] = []
    t0 = time.monotonic()
    sbx = Sandbox.create(
        template="promptkiln-docs", timeout=120, api_key=key, api_url=url, sandbox_url=url
    )
    try:
        sbx.commands.run("echo ready", on_stdout=lambda _: first.append(time.monotonic()))
    finally:
        sbx.kill()
    return first[0] - t0


def _pool_ready(server_pid: int, timeout: float = 60) -> None:
    client = docker.from_env()
    filters = {"label": [f"promptkiln.e2b.owner-pid={server_pid}", "promptkiln.e2b.kernel=0"]}
    try:
        deadline = time.monotonic() + timeout
        while not client.containers.list(filters=filters) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)  # the box is listed as soon as it runs; the pool adds it a moment later
    finally:
        client.close()


def latency_row(url: str, key: str, n: int, wait: Callable[[], None] | None) -> list[float]:
    times = []
    for _ in range(n):
        if wait is not None:
            wait()
        times.append(_first_output(url, key))
    return times


def concurrent_row(url: str, key: str, n: int) -> tuple[list[float], int, float]:
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            t = _first_output(url, key)
            with lock:
                times.append(t)
        except Exception as exc:
            with lock:
                failures.append(repr(exc)[:200])

    threads = [threading.Thread(target=one) for _ in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for f in failures[:3]:
        print(f"  failure: {f}")
    return times, len(failures), time.monotonic() - t0


def e2b_rows(
    start_server: Callable[..., tuple[Any, str]], key: str, runs: int, concurrent: int
) -> None:
    """``start_server(extra_args)`` -> (process, url) of a ``promptkiln serve``."""
    os.environ.pop("E2B_DOMAIN", None)
    print("E2B protocol (e2b SDK -> promptkiln serve): create -> first output of `echo ready`")
    server, url = start_server(["--e2b-pool", "1"])
    try:
        _pool_ready(server.pid)
        warm = latency_row(url, key, runs, lambda: _pool_ready(server.pid))
        print(
            f"  warm pool: p50 {statistics.median(warm):.2f} s, p95 {_pct(warm, 0.95):.2f} s "
            f"({runs} sandboxes, one at a time)"
        )
    finally:
        server.terminate()
        server.wait(120)
    server, url = start_server(["--e2b-pool", "0"])
    try:
        cold = latency_row(url, key, runs, None)
        print(
            f"  cold:      p50 {statistics.median(cold):.2f} s, p95 {_pct(cold, 0.95):.2f} s "
            f"({runs} sandboxes, one at a time)"
        )
        times, failed, wall = concurrent_row(url, key, concurrent)
        if times:
            print(
                f"  {concurrent} at once (cold): {failed} failed, p50 {statistics.median(times):.2f} s, "
                f"p95 {_pct(times, 0.95):.2f} s, all done in {wall:.1f} s"
            )
        else:
            print(f"  {concurrent} at once (cold): {failed} failed")
    finally:
        server.terminate()
        server.wait(120)
