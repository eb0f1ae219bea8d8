"""Server throughput benchmark (``make bench-server``): numbers, not assertions.

Starts ``promptkiln serve`` (its own temporary home, loopback port, ``--workers`` = the CPU
count), creates a key, and submits ``run`` jobs (a small CSV-writing script) from 1, 4 and 20
concurrent clients; each client submits, follows the job's events to the end and downloads its
file. Prints jobs per minute and p50/p95 latency (submit -> file downloaded) per concurrency,
next to the CLI's figure for the same job measured in the same run (``promptkiln run`` as a
process, one after another).

Then the scale-out rows: a PostgreSQL started for the run (``initdb``/``pg_ctl`` as the test
suite finds them), one replica and then two replicas (two ``serve`` processes on two ports,
sharing the store; clients alternate between them) at the highest concurrency level, with
jobs per minute and p95 for each (``--no-replicas`` skips them).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from promptkiln.client import Client

SCRIPT = "import csv\nw = csv.writer(open('out.csv', 'w'))\nw.writerows([[i, i * i] for i in range(100)])\n"
CLI = [sys.executable, "-m", "promptkiln.cli"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_runs(n: int, env: dict[str, str], work: Path) -> list[float]:
    script = work / "job.py"
    script.write_text(SCRIPT)
    times = []
    for i in range(n):
        t0 = time.monotonic()
        subprocess.run(
            [*CLI, "run", str(script), "-o", str(work / f"cli-{i}"), "-q"],
            check=True,
            capture_output=True,
            env=env,
        )
        times.append(time.monotonic() - t0)
    return times


def server_runs(
    url: str | list[str], key: str, concurrency: int, jobs: int, work: Path, tag: str
) -> tuple[list[float], float]:
    """``jobs`` run jobs from ``concurrency`` client threads; with several URLs (replicas) the
    clients alternate between them."""
    urls = [url] if isinstance(url, str) else url
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(jobs))

    def client_loop(url: str) -> None:
        with Client(url, key, timeout=300) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.monotonic()
                result = client.run(SCRIPT, out=work / f"{tag}-{i}")
                assert [a.name for a in result.files] == ["out.csv"], result.job
                with lock:
                    latencies.append(time.monotonic() - t0)

    t0 = time.monotonic()
    threads = [
        threading.Thread(target=client_loop, args=(urls[n % len(urls)],))
        for n in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.monotonic() - t0


def start_server(
    env: dict[str, str], workers: int, log_path: Path, extra: tuple[str, ...] = ()
) -> tuple[Any, str]:
    """A ``promptkiln serve`` subprocess on a free port, once it answers /healthz."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", str(workers), *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"the server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


def replica_rows(env: dict[str, str], work: Path, concurrency: int, jobs: int) -> None:
    """Jobs/min and p95 for 1 and 2 replicas on one PostgreSQL, ``concurrency`` clients."""
    path = Path(__file__).resolve().parents[1] / "tests" / "pgserver.py"
    spec = importlib.util.spec_from_file_location("promptkiln_bench_pgserver", path)
    assert spec is not None and spec.loader is not None
    pgserver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pgserver)
    pg = pgserver.PgServer()
    try:
        per_replica = max(1, (os.cpu_count() or 2) // 2)
        for replicas in (1, 2):
            pg_env = {**env, "PROMPTKILN_STORE_URL": pg.create_database()}
            made = subprocess.run(
                [*CLI, "keys", "create", "--tenant", "bench", "--max-active-jobs", "1000"],
                check=True, capture_output=True, text=True, env=pg_env,
            )  # fmt: skip
            key = made.stdout.strip().splitlines()[-1]
            servers = [
                start_server(pg_env, per_replica, work / f"replica-{replicas}-{n}.log")
                for n in range(replicas)
            ]
            try:
                server_runs([u for _, u in servers], key, 1, 2, work, f"warm-r{replicas}")
                latencies, wall = server_runs(
                    [u for _, u in servers], key, concurrency, jobs, work, f"r{replicas}"
                )
                print(
                    f"PostgreSQL, {replicas} replica(s) x {per_replica} workers, "
                    f"concurrency {concurrency}: {len(latencies) / wall * 60:.1f} jobs/min, "
                    f"p50 {statistics.median(latencies):.2f} s, p95 {pct(latencies, 0.95):.2f} s"
                )
            finally:
                for server, _ in servers:
                    server.terminate()
                    server.wait(120)
    finally:
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="jobs per concurrency level")
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--levels", default="1,4,20")
    parser.add_argument("--no-replicas", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--no-e2b", action="store_true", help="skip the E2B-protocol rows")
    parser.add_argument("--e2b-runs", type=int, default=10, help="sandboxes per E2B latency row")
    parser.add_argument("--e2b-concurrent", type=int, default=20)
    parser.add_argument("--only-e2b", action="store_true", help="only the E2B-protocol rows")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="promptkiln-bench-server-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PROMPTKILN_HOME": str(work / "home")}
        env.pop("PROMPTKILN_CONFIG", None)
        made = subprocess.run(
            [*CLI, "keys", "create", "--tenant", "bench", "--max-active-jobs", "1000"],
            check=True, capture_output=True, text=True, env=env,
        )  # fmt: skip
        key = made.stdout.strip().splitlines()[-1]
        if not args.no_e2b:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from bench_e2b import e2b_rows

            e2b_rows(
                lambda extra: start_server(env, 2, work / "e2b-server.log", tuple(extra)),
                key,
                args.e2b_runs,
                args.e2b_concurrent,
            )
        if args.only_e2b:
            return
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        workers = os.cpu_count() or 2
        log = (work / "server.log").open("wb")
        server = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            server_runs(url, key, 1, 2, work, "warm")  # warm up the engine and the image cache
            cli = cli_runs(args.cli_runs, env, work)
            cli_p50 = statistics.median(cli)
            print(f"workers: {workers}; jobs per level: {args.jobs}; job: a 100-row CSV script")
            print(
                f"CLI `promptkiln run` (one process per job, serial): p50 {cli_p50:.2f} s, "
                f"p95 {pct(cli, 0.95):.2f} s, {60 / cli_p50:.1f} jobs/min"
            )
            print(
                f"{'concurrency':>11}  {'jobs/min':>8}  {'p50 s':>6}  {'p95 s':>6}  {'p50 / CLI p50':>13}"
            )
            for c in levels:
                latencies, wall = server_runs(url, key, c, args.jobs, work, f"c{c}")
                p50 = statistics.median(latencies)
                print(
                    f"{c:>11}  {len(latencies) / wall * 60:>8.1f}  {p50:>6.2f}  "
                    f"{pct(latencies, 0.95):>6.2f}  {p50 / cli_p50:>13.2f}"
                )
        finally:
            server.terminate()
            server.wait(120)
            log.close()
        if not args.no_replicas:
            replica_rows(env, work, max(levels), args.jobs)


if __name__ == "__main__":
    main()
