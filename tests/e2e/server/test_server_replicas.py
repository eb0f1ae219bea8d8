"""Scale-out: two `promptkiln serve` replicas (real subprocesses on two loopback ports) against one
PostgreSQL started by the suite, the scripted model server and real Docker sandboxes."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from .conftest import cli, create_key, sandboxes_of, wait_job
from .test_server_queue import wait_for

pytestmark = [pytest.mark.docker]

LEASE_S = 3
QUICK = "open('out.csv', 'w').write('n\\n1\\n')\n"
SLOW = "import time\ntime.sleep(60)\nopen('late.csv', 'w').write('x\\n')\n"
CSV_REPLY = "```python\nopen('table.csv', 'w').write('q,v\\n1,2\\n')\n```\n"


@pytest.fixture(autouse=True)
def _no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count each job's own sandbox: no warm pool beside them (the server's pool
    has its own tests, test_server_pool.py)."""
    monkeypatch.setenv("PROMPTKILN_POOL__SIZE", "0")


@pytest.fixture
def shared_store(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every process of the test (replicas and CLI) uses the PostgreSQL store, short leases."""
    monkeypatch.setenv("PROMPTKILN_STORE_URL", pg_url)
    monkeypatch.setenv("PROMPTKILN_JOB_LEASE", str(LEASE_S))
    return pg_url


def _rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, args or None).fetchall())


def test_forty_jobs_two_tenants_two_replicas_each_job_runs_once(
    serve: Any, shared_store: str, openai_server: Any
) -> None:
    a, b = serve("--workers", "2"), serve("--workers", "2")
    keys = {t: create_key(t) for t in ("acme", "globex")}
    for _ in range(4):
        openai_server.enqueue(CSV_REPLY)
    ids: list[str] = []
    clients = [s.client(keys[t]) for s in (a, b) for t in ("acme", "globex")]
    try:
        for i in range(40):
            http = clients[i % 4]  # both tenants through both replicas
            body = {"prompt": "a small table", "formats": ["csv"]} if i < 4 else {"script": QUICK}
            answer = http.post("/v1/jobs", json=body)
            assert answer.status_code in (200, 201, 202), answer.text
            ids.append(answer.json()["id"])
        for i, job_id in enumerate(ids):
            job = wait_job(clients[i % 4], job_id)
            assert job["status"] == "succeeded", job
    finally:
        for http in clients:
            http.close()
    # each job ran exactly once: one "running" event, one run record, on one replica
    running = _rows(
        shared_store,
        "SELECT job_id, count(*) FROM job_events WHERE type = 'status' "
        "AND data LIKE '%%\"running\"%%' GROUP BY job_id",
    )
    assert sorted(r[0] for r in running) == sorted(ids)
    assert all(n == 1 for _, n in running)
    per_job = _rows(shared_store, "SELECT job_id, count(*) FROM tenant_runs GROUP BY job_id")
    assert len(per_job) == 40 and all(n == 1 for _, n in per_job)
    workers = dict(_rows(shared_store, "SELECT worker, count(*) FROM jobs GROUP BY worker"))
    assert a.proc is not None and b.proc is not None
    assert {w.split("@")[0] for w in workers} == {str(a.proc.pid), str(b.proc.pid)}, workers
    replicas = _rows(shared_store, "SELECT id FROM replicas")
    assert len(replicas) == 2
    verify = cli("runs", "verify")
    assert verify.returncode == 0 and "40 record(s)" in verify.stdout, verify.stdout


def test_kill_9_of_a_replica_interrupts_its_job_after_the_lease_and_the_other_finishes(
    serve: Any, shared_store: str
) -> None:
    a, b = serve("--workers", "1"), serve("--workers", "1")
    key = create_key("acme")
    assert a.proc is not None and b.proc is not None
    with a.client(key) as http:
        slow = [http.post("/v1/jobs", json={"script": SLOW}).json()["id"] for _ in range(2)]
        wait_for(
            lambda: len(_rows(shared_store, "SELECT 1 FROM jobs WHERE status = 'running'")) == 2,
            60,
            "both replicas to run a slow job",
        )
        queued = [http.post("/v1/jobs", json={"script": QUICK}).json()["id"] for _ in range(3)]
    owner = dict(_rows(shared_store, "SELECT id, worker FROM jobs WHERE status = 'running'"))
    assert set(owner) == set(slow)  # one slow job on each replica
    on_a = next(j for j, w in owner.items() if w.startswith(f"{a.proc.pid}@"))
    on_b = next(j for j, w in owner.items() if w.startswith(f"{b.proc.pid}@"))
    dead_pid = a.proc.pid
    wait_for(lambda: len(sandboxes_of(dead_pid)) == 1, 60, "a's sandbox")
    killed_at = time.time()
    a.kill9()
    with b.client(key) as http:
        job = wait_job(http, on_a, 60)
        assert job["status"] == "interrupted" and job["error"]["code"] == "interrupted", job
        assert job["files"] == []
        finished = _rows(shared_store, "SELECT finished FROM jobs WHERE id = %s", on_a)[0][0]
        assert finished >= killed_at  # marked by the survivor, after the kill, via the lease
        assert "lease expired" in b.log.read_text()
        # free the survivor's only worker; the dead replica's queued work then finishes there
        assert http.post(f"/v1/jobs/{on_b}/cancel").status_code == 200
        for job_id in queued:
            assert wait_job(http, job_id)["status"] == "succeeded"
        wait_for(lambda: not sandboxes_of(dead_pid), 30, "the dead replica's sandbox to be reaped")
        assert not sandboxes_of(b.proc.pid)
        assert http.get("/v1/runs/verify").json()["ok"] is True
    workers = {
        w for (w,) in _rows(shared_store, "SELECT worker FROM jobs WHERE status = 'succeeded'")
    }
    assert workers == {next(w for w in owner.values() if w.startswith(f"{b.proc.pid}@"))}
    verify = cli("runs", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
