"""Faults under load (``make faults``): jobs from several tenants on two ``promptkiln serve``
replicas over one PostgreSQL while something breaks; prints the fault table.

Each fault gets a fresh database and home; ``--jobs`` ``run`` jobs (a short script that sleeps,
then writes ``out.txt`` with a text known in advance) are submitted from ``--tenants`` tenants
through both replicas (an ``Idempotency-Key`` per job, so a submit retried on the other replica
never makes a second job). Once a few jobs have finished and some run, the fault:

* ``kill9``: replica 0 is ``kill -9``ed, and started again 2 s later (as a supervisor would);
* ``postgres``: PostgreSQL stops (``pg_ctl stop -m fast``, every connection ends) and starts
  again after ``--down`` seconds;
* ``docker``: the Docker engine stops (SIGTERM, like ``systemctl stop docker``) and starts again
  after ``--down`` seconds. This is a PRIVATE dockerd (its own socket, data root, exec root and
  pid file under ~/.cache/promptkiln/faults-engine, the sandbox image loaded into it once with
  ``docker save | docker load``); the replicas use it through ``DOCKER_HOST``. The shared engine
  is never touched;
* ``disk``: the replicas' data directory (``PROMPTKILN_HOME`` and ``TMPDIR``) is a 64 MiB tmpfs
  of its own; it is filled to the last byte for ``--down`` seconds, then freed (root only).

Then every job must end ``succeeded`` (with exactly its file, byte for byte), ``failed`` with a
clear error (a code other than ``internal_error``, and a message), or ``interrupted`` (no
files); none may stay queued or running, none may run twice (one ``running`` event, at most
one run record), and ``promptkiln runs verify`` must pass. Recovery is the time from the end of
the fault (the kill; PostgreSQL, the engine or the disk back) until a job claimed after it has
succeeded. Exit status 1 if any of that does not hold.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "promptkiln.cli"]
FAULTS = ("kill9", "postgres", "docker", "disk")
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
SCRIPT = "import time\ntime.sleep({sleep})\nopen('out.txt', 'w').write({text!r})\n"
ENGINE_ROOT = Path.home() / ".cache" / "promptkiln" / "faults-engine"
LEASE_S = 10


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_of(tag: str) -> str:
    return f"{tag}\n" * 1000


@dataclass
class Row:
    fault: str
    statuses: Counter[str] = field(default_factory=Counter)
    stuck: int = 0
    twice: int = 0
    bad_files: int = 0
    unclear: int = 0
    chain_ok: bool = False
    recovery_s: float | None = None
    requeued: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not (self.stuck or self.twice or self.bad_files or self.unclear)
            and self.chain_ok
            and not self.statuses["cancelled"]
        )


class Replicas:
    """``n`` ``promptkiln serve`` processes sharing one store; each can be killed and restarted."""

    def __init__(self, env: dict[str, str], work: Path, n: int, workers: int) -> None:
        self.env, self.work, self.workers = env, work, workers
        self.ports = [free_port() for _ in range(n)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self, i: int) -> None:
        log = (self.work / f"replica-{i}.log").open("ab")
        self.procs[i] = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.ports[i]), "--workers", str(self.workers)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url(i)}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"replica {i} did not start: see {self.work}/replica-{i}.log")

    def kill9(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def call(self, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """The request on any live replica, retried while replicas or the store are down."""
        deadline = time.monotonic() + 120
        n = 0
        while True:
            url = self.url(n % len(self.ports))
            n += 1
            try:
                r = httpx.request(
                    method, url + path, headers={"Authorization": f"Bearer {key}"},
                    timeout=30, **kw,
                )  # fmt: skip
                if r.status_code not in (502, 503) or time.monotonic() > deadline:
                    return r
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


class Engine:
    """The private dockerd of the ``docker`` fault, with the sandbox image in it."""

    def __init__(self, image: str) -> None:
        private_engine = _load(
            "faults_private_engine", ROOT / "tests/integration/private_engine.py"
        )
        ENGINE_ROOT.mkdir(parents=True, exist_ok=True)
        self.engine = private_engine.PrivateEngine(ENGINE_ROOT)
        self.engine.start()
        self.host: str = self.engine.host
        have = subprocess.run(
            ["docker", "-H", self.host, "image", "inspect", image], capture_output=True
        )
        if have.returncode != 0:
            print(f"loading {image} into the private engine (once; cached in {ENGINE_ROOT})")
            save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout, check=True)
            save.wait()

    def stop(self) -> None:
        self.engine.stop()

    def start(self) -> None:
        self.engine.start()


class Disk:
    """A size-capped tmpfs of its own, and a file that fills it."""

    def __init__(self, where: Path, size: str = "64m") -> None:
        self.where = where
        where.mkdir(parents=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True
        )
        self.filler = where / "filler"

    def fill(self) -> None:
        """Write until ENOSPC, in ever smaller pieces, down to the last byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def remove(self) -> None:
        subprocess.run(["umount", "-l", str(self.where)], check=False)


def run_fault(
    fault: str,
    pg: Any,
    work: Path,
    *,
    jobs: int,
    tenants: int,
    down_s: float,
    engine: Engine | None = None,
    sleep_s: float = 1.0,
) -> Row:
    row = Row(fault)
    url = pg.create_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTKILN_")}
    home = work / fault / "home"
    disk: Disk | None = None
    if fault == "disk":
        disk = Disk(work / fault / "disk")
        home = disk.where / "home"
        (disk.where / "tmp").mkdir()
        env["TMPDIR"] = str(disk.where / "tmp")
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        PROMPTKILN_HOME=str(home),
        PROMPTKILN_STORE_URL=url,
        PROMPTKILN_JOB_LEASE=str(LEASE_S),
        PROMPTKILN_POOL__SIZE="0",
    )
    for name in ("PROMPTKILN_IMAGE", "PROMPTKILN_CACHE"):
        if name in os.environ:
            env[name] = os.environ[name]
    if fault == "docker":
        assert engine is not None
        env["DOCKER_HOST"] = engine.host
    keys = []
    for t in range(tenants):
        made = cli(env, "keys", "create", "--tenant", f"t{t}", "--max-active-jobs", "1000")
        assert made.returncode == 0, made.stderr
        keys.append(made.stdout.strip().splitlines()[-1])
    replicas = Replicas(env, work / fault, 2, 2)
    try:
        for i in range(2):
            replicas.start(i)
        submitted = submit(replicas, keys, jobs, sleep_s)
        t_end = inject(fault, replicas, pg, url, engine, disk, down_s, jobs)
        wait_done(url, len(submitted), t_end + 240)
        check(row, replicas, url, env, submitted, t_end)
    finally:
        replicas.stop()
        if disk is not None:
            disk.remove()
    return row


def submit(replicas: Replicas, keys: list[str], jobs: int, sleep_s: float) -> dict[str, Any]:
    """Submit ``jobs`` jobs, spread over tenants and replicas; {job id: (key, tag)}."""
    out: dict[str, Any] = {}
    lock = threading.Lock()

    def one_tenant(t: int) -> None:
        for n in range(t, jobs, len(keys)):
            tag = f"job-{n:03d}-{os.urandom(4).hex()}"
            script = SCRIPT.format(sleep=sleep_s, text=text_of(tag))
            r = _submit_one(replicas, keys[t], script, tag, n)
            assert r.status_code == 202, r.text
            with lock:
                out[r.json()["id"]] = (keys[t], tag)

    threads = [threading.Thread(target=one_tenant, args=(t,)) for t in range(len(keys))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def _submit_one(replicas: Replicas, key: str, script: str, tag: str, n: int) -> httpx.Response:
    deadline = time.monotonic() + 120
    i = n
    while True:
        url = replicas.url(i % 2)
        i += 1
        try:
            r = httpx.post(
                f"{url}/v1/jobs", json={"script": script}, timeout=30,
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": tag},
            )  # fmt: skip
            if r.status_code == 202 or time.monotonic() > deadline:
                return r
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def counts(url: str) -> Counter[str]:
    return Counter(
        {s: int(n) for s, n in rows(url, "SELECT status, count(*) FROM jobs GROUP BY status")}
    )


def inject(
    fault: str,
    replicas: Replicas,
    pg: Any,
    url: str,
    engine: Engine | None,
    disk: Disk | None,
    down_s: float,
    jobs: int,
) -> float:
    """Wait until some jobs finished and some run, break ``fault``, mend it; when it ended."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        c = counts(url)
        if c["succeeded"] >= min(5, jobs // 4) and c["running"] >= 2:
            break
        time.sleep(0.2)
    if fault == "kill9":
        replicas.kill9(0)
        t_end = time.time()
        time.sleep(2)
        replicas.start(0)
        return t_end
    if fault == "postgres":
        pg.halt("fast")
        time.sleep(down_s)
        pg.start()
    elif fault == "docker":
        assert engine is not None
        engine.stop()
        time.sleep(down_s)
        engine.start()
    elif fault == "disk":
        assert disk is not None
        disk.fill()
        time.sleep(down_s)
        disk.free()
    return time.time()


def wait_done(url: str, n: int, until: float) -> None:
    while time.time() < until:
        c = counts(url)
        if sum(c[s] for s in TERMINAL) >= n:
            return
        time.sleep(0.5)


def check(
    row: Row,
    replicas: Replicas,
    url: str,
    env: dict[str, str],
    submitted: dict[str, Any],
    t_end: float,
) -> None:
    table = {
        r[0]: r[1:] for r in rows(url, "SELECT id, status, error, started, finished FROM jobs")
    }
    row.notes.append(f"{len(table)} job(s) in the store for {len(submitted)} submitted")
    if set(table) != set(submitted):
        row.twice += len(set(table) - set(submitted))
    running = Counter(
        r[0]
        for r in rows(
            url,
            "SELECT job_id FROM job_events WHERE type = 'status' AND data LIKE '%\"running\"%'",
        )
    )
    records = Counter(r[0] for r in rows(url, "SELECT job_id FROM tenant_runs"))
    # a job put back in the queue before its sandbox started (the engine was down) is claimed
    # again: one more `running` per `requeued`, and still at most one run
    requeued = Counter(
        r[0] for r in rows(url, "SELECT job_id FROM job_events WHERE type = 'requeued'")
    )
    row.requeued = sum(requeued.values())
    row.twice += sum(1 for j in table if running[j] - requeued[j] > 1 or records[j] > 1)
    firsts = []
    for job_id, (status, error, started, finished) in table.items():
        row.statuses[status] += 1
        if status not in TERMINAL:
            row.stuck += 1
            continue
        key, tag = submitted[job_id]
        job = replicas.call(key, "GET", f"/v1/jobs/{job_id}").json()
        if status == "succeeded":
            want = text_of(tag).encode()
            files = job["files"]
            if [f["name"] for f in files] != ["out.txt"] or files[0]["sha256"] != hashlib.sha256(
                want
            ).hexdigest():
                row.bad_files += 1
            else:
                got = replicas.call(key, "GET", f"/v1/files/{files[0]['id']}/content").content
                row.bad_files += got != want
            if started and started > t_end:
                firsts.append(finished - t_end)
        else:
            row.bad_files += bool(job["files"])
            err = json.loads(error) if error else {}
            row.errors[f"{status}: {err.get('code')}: {str(err.get('message'))[:70]}"] += 1
            if status == "failed" and (
                err.get("code") in (None, "internal_error") or not err.get("message")
            ):
                row.unclear += 1
    row.recovery_s = min(firsts) if firsts else None
    verify = cli(env, "runs", "verify")
    row.chain_ok = verify.returncode == 0
    if not row.chain_ok:
        row.notes.append(f"runs verify: {verify.stdout.strip()} {verify.stderr.strip()}")


def print_table(table: list[Row]) -> None:
    head = f"{'fault':<10} {'jobs':>4} {'succeeded':>9} {'failed':>6} {'interrupted':>11} {'stuck':>5} {'twice':>5} {'bad files':>9} {'chain':>5} {'recovery s':>10}"
    print(head)
    for r in table:
        rec = f"{r.recovery_s:.1f}" if r.recovery_s is not None else "-"
        print(
            f"{r.fault:<10} {sum(r.statuses.values()):>4} {r.statuses['succeeded']:>9} "
            f"{r.statuses['failed']:>6} {r.statuses['interrupted']:>11} {r.stuck:>5} {r.twice:>5} "
            f"{r.bad_files:>9} {'ok' if r.chain_ok else 'BAD':>5} {rec:>10}"
        )
    for r in table:
        for what, n in sorted(r.errors.items()):
            print(f"  {r.fault}: {n} x {what}")
        if r.requeued:
            print(f"  {r.fault}: {r.requeued} requeue(s) of a job whose sandbox had not started")
        for note in r.notes:
            print(f"  {r.fault}: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"some of {','.join(FAULTS)}")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--down", type=float, default=5.0, help="seconds a fault lasts")
    args = parser.parse_args()
    chosen = [f for f in args.faults.split(",") if f]
    unknown = set(chosen) - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown fault(s): {', '.join(sorted(unknown))}; use {','.join(FAULTS)}")
    if "disk" in chosen and os.geteuid() != 0:
        raise SystemExit("the disk fault mounts a tmpfs: run as root, or leave it out (--faults)")
    pgserver = _load("faults_pgserver", ROOT / "tests" / "pgserver.py")
    pg = pgserver.PgServer()
    engine = None
    work = Path(tempfile.mkdtemp(prefix="promptkiln-faults-"))
    table = []
    try:
        image = os.environ.get("PROMPTKILN_IMAGE", "promptkiln-sandbox:latest")
        engine = Engine(image) if "docker" in chosen else None
        for fault in chosen:
            t0 = time.monotonic()
            row = run_fault(
                fault,
                pg,
                work,
                jobs=args.jobs,
                tenants=args.tenants,
                down_s=args.down,
                engine=engine,
            )
            table.append(row)
            print(f"{fault}: done in {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        if engine is not None:
            engine.stop()
        pg.stop()
    print(
        f"\n{args.jobs} run jobs from {args.tenants} tenants, 2 replicas x 2 workers, one PostgreSQL; faults last {args.down:g} s\n"
    )
    print_table(table)
    if all(r.ok for r in table):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"\nFAILED: the logs are in {work}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
