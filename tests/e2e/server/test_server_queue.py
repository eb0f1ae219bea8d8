"""The queue under load and under failure: 20 jobs from 3 tenants on 2 workers (fair, isolated,
nothing left behind), kill -9 mid-job and restart, cancel, SIGTERM drain."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptkiln import Client

from .conftest import cli, create_key, sandboxes_of, wait_job

pytestmark = [pytest.mark.docker]

QUICK = "open('out.csv', 'w').write('n\\n1\\n')\n"
SLOW = "import time\ntime.sleep(60)\nopen('late.csv', 'w').write('x\\n')\n"


@pytest.fixture(autouse=True)
def _no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count each job's own sandbox: no warm pool beside them (the server's pool
    has its own tests, test_server_pool.py)."""
    monkeypatch.setenv("PROMPTKILN_POOL__SIZE", "0")


def wait_for(predicate: Any, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def running_script(http: httpx.Client, job_id: str) -> bool:
    """Follow the job's events until the script starts running (True) or the job ends."""
    with http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=60) as events:
        for line in events.iter_lines():
            if "running the script" in line:
                return True
    return False


def test_twenty_jobs_three_tenants_fair_and_isolated(serve: Any) -> None:
    server = serve("--workers", "2")
    tenants = {name: create_key(name) for name in ("alpha", "beta", "gamma")}
    counts = {"alpha": 10, "beta": 6, "gamma": 4}
    submitted: dict[str, list[str]] = {name: [] for name in tenants}

    def submit(name: str) -> None:
        with server.client(tenants[name]) as http:
            for _ in range(counts[name]):
                r = http.post("/v1/jobs", json={"script": QUICK})
                assert r.status_code == 202, r.text
                submitted[name].append(r.json()["id"])

    # Two 5 s jobs of a fourth tenant hold both workers while the 20 are submitted, so the
    # order they start in is the queue's choice alone.
    with server.client(create_key("gate")) as gate:
        blockers = [
            gate.post("/v1/jobs", json={"script": "import time\ntime.sleep(5)\n"}).json()["id"]
            for _ in range(2)
        ]
        for job_id in blockers:
            wait_for(lambda j=job_id: running_script(gate, j), 60, "the blockers to run")
    threads = [threading.Thread(target=submit, args=(n,)) for n in tenants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started: list[tuple[float, str]] = []
    for name, ids in submitted.items():
        with server.client(tenants[name]) as http:
            for job_id in ids:
                job = wait_job(http, job_id, timeout=300)
                assert job["status"] == "succeeded", job
                assert [f["name"] for f in job["files"]] == ["out.csv"]
                started.append((job["timings"]["started"], name))
            # Every id of another tenant answers 404, like an id that never existed.
            mine = http.get("/v1/jobs", params={"limit": 100}).json()["data"]
            assert {j["id"] for j in mine} == set(ids)
            for other, other_ids in submitted.items():
                if other == name:
                    continue
                with server.client(tenants[other]) as them:
                    theirs = them.get(f"/v1/jobs/{other_ids[0]}").json()
                probes = [
                    f"/v1/jobs/{other_ids[0]}",
                    f"/v1/jobs/{other_ids[0]}/events",
                    f"/v1/jobs/{other_ids[0]}/files.zip",
                    f"/v1/files/{theirs['files'][0]['id']}",
                    f"/v1/files/{theirs['files'][0]['id']}/content",
                    f"/v1/runs/{theirs['result']['run_id']}",
                ]
                for path in probes:
                    r = http.get(path)
                    assert r.status_code == 404, (path, r.text)
                    assert r.json()["error"]["code"] == "not_found"
                r = http.post(f"/v1/jobs/{other_ids[0]}/cancel")
                assert r.status_code == 404
    # Fair order: while every tenant still had queued jobs (the first 12 starts: gamma has 4),
    # the tenants took turns, one job each per round.
    order = [name for _, name in sorted(started)]
    for r in range(4):
        assert sorted(order[3 * r : 3 * r + 3]) == sorted(tenants), order
    assert "gamma" not in order[12:], order
    # Nothing left behind: no sandbox of the server, no temp dirs of it.
    assert server.proc is not None
    wait_for(lambda: not sandboxes_of(server.proc.pid), 15, "sandboxes to go")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    assert not [p for p in tmp.glob(f"promptkiln-*.{server.proc.pid}@*")]


def test_kill_9_mid_job_then_restart(serve: Any) -> None:
    server = serve("--workers", "1")
    key = create_key("acme")
    with server.client(key) as http:
        slow = http.post("/v1/jobs", json={"script": SLOW}).json()["id"]
        wait_for(lambda: running_script(http, slow), 60, "the slow script to run")
        queued = [http.post("/v1/jobs", json={"script": QUICK}).json()["id"] for _ in range(2)]
        assert http.get(f"/v1/jobs/{queued[0]}").json()["status"] == "queued"
    # A Python client follows the slow job across the crash: it reconnects with Last-Event-ID.
    seen: list[int] = []
    final: dict[str, Any] = {}

    def follow() -> None:
        with Client(server.url, key) as client:
            for seq, type_, data in client.events(slow):
                seen.append(seq)
                if type_ == "status":
                    final.update(data)

    follower = threading.Thread(target=follow)
    follower.start()
    wait_for(lambda: len(seen) >= 4, 30, "the client to follow the job")
    assert server.proc is not None
    old_pid = server.proc.pid
    assert len(sandboxes_of(old_pid)) == 1
    server.kill9()
    assert len(sandboxes_of(old_pid)) == 1  # kill -9 gave it no chance to clean up

    server.start()
    with server.client(key) as http:
        job = http.get(f"/v1/jobs/{slow}").json()
        assert job["status"] == "interrupted", job
        assert job["error"]["code"] == "interrupted" and job["files"] == []
        follower.join(60)
        assert not follower.is_alive()
        assert final["status"] == "interrupted"
        assert seen == list(range(1, len(seen) + 1))  # nothing lost, nothing twice
        wait_for(lambda: not sandboxes_of(old_pid), 30, "the dead server's sandbox to be reaped")
        for job_id in queued:
            assert wait_job(http, job_id)["status"] == "succeeded"
        assert http.get("/v1/runs/verify").json()["ok"] is True
    verify = cli("runs", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_cancel_stops_the_sandbox_at_once_and_delivers_nothing(serve: Any) -> None:
    server = serve("--workers", "1")
    key = create_key("acme")
    assert server.proc is not None
    with server.client(key) as http:
        job_id = http.post("/v1/jobs", json={"script": SLOW}).json()["id"]
        wait_for(lambda: running_script(http, job_id), 60, "the script to run")
        assert len(sandboxes_of(server.proc.pid)) == 1
        cancelled = http.post(f"/v1/jobs/{job_id}/cancel")
        assert cancelled.status_code == 200
        assert sandboxes_of(server.proc.pid) == []  # gone when the answer comes
        job = wait_job(http, job_id, timeout=30)
        assert job["status"] == "cancelled" and job["files"] == [] and job["error"] is None
        # A queued job is cancelled without running; the worker goes on to the next one.
        blocker = http.post("/v1/jobs", json={"script": SLOW}).json()["id"]
        queued = http.post("/v1/jobs", json={"script": QUICK}).json()["id"]
        q2 = http.post("/v1/jobs", json={"script": SLOW}).json()["id"]
        assert http.post(f"/v1/jobs/{q2}/cancel").json()["status"] == "cancelled"
        wait_for(lambda: running_script(http, blocker), 60, "the blocker to run")
        http.post(f"/v1/jobs/{blocker}/cancel")
        assert wait_job(http, queued)["status"] == "succeeded"
        events = http.get(f"/v1/jobs/{q2}/events").text
        assert "running" not in events and "cancelled" in events


def test_sigterm_drains_the_running_job(serve: Any) -> None:
    server = serve("--workers", "1")
    key = create_key("acme")
    script = "import time\ntime.sleep(3)\nopen('done.csv', 'w').write('x\\n')\n"
    with server.client(key) as http:
        job_id = http.post("/v1/jobs", json={"script": script}).json()["id"]
        wait_for(lambda: running_script(http, job_id), 60, "the script to run")
    assert server.stop() == 0
    assert "draining: waiting for 1 running job(s)" in server.log.read_text()
    server.start()
    with server.client(key) as http:
        job = http.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded", job
        assert [f["name"] for f in job["files"]] == ["done.csv"]
