"""The server's warm pool: `promptkiln serve` keeps ``[pool] size`` warmed sandboxes while it
runs, its jobs run in them (one sandbox per job, replaced in the background), and nothing of
the pool is left once the server has shut down."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import GOOD_PNG, create_key, wait_job

pytestmark = [pytest.mark.docker]


def labelled(pid: int) -> tuple[list[Any], list[Any]]:
    """Containers and volumes that process ``pid`` made (running or not)."""
    import docker

    client = docker.from_env()
    try:
        flt = {"label": ["promptkiln.kind=sandbox", f"promptkiln.owner-pid={pid}"]}
        return (
            list(client.containers.list(all=True, filters=flt)),
            list(client.volumes.list(filters={"label": f"promptkiln.owner-pid={pid}"})),
        )
    finally:
        client.close()


def wait_pool(http: httpx.Client, pid: int, count: int, timeout: float = 180) -> set[str]:
    """Names of the pool's sandboxes, once ``count`` of them are warm (as /metrics says)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = http.get("/metrics").text
        if f"promptkiln_pool_ready {count}\n" in text:
            containers, _ = labelled(pid)
            return {c.name for c in containers if c.name.startswith("promptkiln-pool-")}
        time.sleep(0.3)
    raise AssertionError(f"the pool did not fill: {text}")


def test_jobs_take_warm_sandboxes_and_shutdown_leaves_nothing(
    serve: Any, openai_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTKILN_POOL__SIZE", "2")
    server = serve()
    pid = server.proc.pid
    key = create_key("acme")
    with server.client(key) as http:
        before = wait_pool(http, pid, 2)
        assert len(before) == 2 and "promptkiln_pool_size 2\n" in http.get("/metrics").text
        for n in range(3):
            wait_pool(http, pid, 2)  # the sandbox the last job took has been replaced
            openai_server.enqueue(GOOD_PNG)
            created = http.post("/v1/jobs", json={"prompt": f"chart {n}", "formats": ["png"]})
            assert created.status_code == 202, created.text
            job = wait_job(http, created.json()["id"])
            assert job["status"] == "succeeded", job
            (attempt,) = job["attempts"]
            record = http.get(f"/v1/runs/{attempt['run_id']}").json()["record"]
            assert record["sandbox"]["extra"].get("warm") == "yes", record["sandbox"]
        after = wait_pool(http, pid, 2)
    assert before.isdisjoint(after), "a pooled sandbox must be replaced, never reused"
    assert server.stop() == 0
    containers, volumes = labelled(pid)
    assert containers == [] and volumes == [], (containers, volumes)


def test_cancel_removes_the_pooled_sandbox_at_once(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTKILN_POOL__SIZE", "1")
    server = serve("--workers", "1")
    pid = server.proc.pid
    key = create_key("acme")
    with server.client(key) as http:
        (taken,) = wait_pool(http, pid, 1)
        slow = "import time\ntime.sleep(60)\nopen('late.csv', 'w').write('x\\n')\n"
        job_id = http.post("/v1/jobs", json={"script": slow}).json()["id"]
        with http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=60) as events:
            for line in events.iter_lines():
                if "running the script" in line:
                    break
        assert http.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
        names = {c.name for c in labelled(pid)[0]}
        assert taken not in names, "the job's pooled sandbox must be gone when the answer comes"
        job = wait_job(http, job_id, timeout=30)
        assert job["status"] == "cancelled" and job["files"] == []
    assert server.stop() == 0
    assert labelled(pid) == ([], [])
