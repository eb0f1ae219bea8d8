"""The server on an E2B cluster at capacity: a real `promptkiln serve` (backend e2b, the real e2b
SDK) against the local fake E2B with a small concurrent-sandbox limit, reached over HTTP.

The fake answers a create beyond its limit with E2B's 429 "maximum number of concurrent E2B
sandboxes"; a sandbox made here with the SDK (another user of the cluster) fills it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkiln.records.store import Store
from promptkiln.server import queue

from .conftest import create_key, wait_job
from .test_server_queue import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.e2b]

_FIXTURES = "promptkiln_tests_e2b_fixtures"
if _FIXTURES not in sys.modules:  # the fake E2B's fixtures, loaded by path (tests/ is no package)
    _spec = importlib.util.spec_from_file_location(
        _FIXTURES, Path(__file__).resolve().parents[2] / "integration" / "e2b_fixtures.py"
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_FIXTURES] = _module
    _spec.loader.exec_module(_module)
e2b_fake = sys.modules[_FIXTURES].e2b_fake
e2b_env = sys.modules[_FIXTURES].e2b_env

QUICK = "open('out.csv', 'w').write('n\\n1\\n')\n"
CSV_REPLY = "```python\nopen('table.csv', 'w').write('q,v\\n1,2\\n')\n```\n"
FULL = "maximum number of concurrent E2B sandboxes"


@pytest.fixture
def occupant(e2b_env: Any) -> Iterator[Any]:
    """The cluster holds one sandbox and takes no more: another user's sandbox fills it."""
    import e2b

    e2b_env.capacity = 1
    box = e2b.Sandbox.create(template="promptkiln-docs", timeout=300)
    try:
        yield box
    finally:
        box.kill()


def e2b_server(serve: Any, monkeypatch: pytest.MonkeyPatch, cooldown: float, requeues: int) -> Any:
    monkeypatch.setenv("PROMPTKILN_E2B__CAPACITY_COOLDOWN", str(cooldown))
    monkeypatch.setenv("PROMPTKILN_E2B__CAPACITY_REQUEUES", str(requeues))
    return serve("--backend", "e2b", "--workers", "1")


def events(job_id: str, type_: str) -> list[dict[str, Any]]:
    """The job's events of one type, read from the server's store (its home is ours)."""
    with Store.open(Path(os.environ["PROMPTKILN_HOME"])) as store:
        rows = queue.events_after(store, job_id, 0, limit=1000)
    return [json.loads(r["data"]) for r in rows if r["type"] == type_]


def test_a_full_cluster_requeues_the_running_job_and_answers_new_ones_503_capacity(
    serve: Any, monkeypatch: pytest.MonkeyPatch, e2b_env: Any, occupant: Any
) -> None:
    server = e2b_server(serve, monkeypatch, cooldown=5, requeues=20)
    key = create_key("acme")
    with server.client(key) as http:
        first = http.post("/v1/jobs", json={"script": QUICK})
        assert first.status_code == 202, first.text
        job_id = first.json()["id"]
        # the cluster refuses its sandbox: the job goes back to the queue, it does not fail
        wait_for(lambda: events(job_id, "requeued"), 60, "the job to be requeued")
        requeued = events(job_id, "requeued")[0]
        assert requeued["code"] == "capacity" and FULL in requeued["message"]
        assert requeued["requeues"] == 1
        assert http.get(f"/v1/jobs/{job_id}").json()["status"] in ("queued", "running")

        # the cluster said "full" moments ago and a job already waits: refused, not queued
        refused = http.post("/v1/jobs", json={"script": QUICK})
        assert refused.status_code == 503, refused.text
        err = refused.json()["error"]
        assert err["code"] == "capacity" and err["type"] == "api_error"
        assert "at capacity" in err["message"] and FULL in err["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 5
        assert len(http.get("/v1/jobs").json()["data"]) == 1
        metrics = http.get("/metrics").text
        assert 'promptkiln_rejections_total{reason="capacity"}' in metrics

        occupant.kill()  # the cluster has room again
        job = wait_job(http, job_id, 120)
        assert job["status"] == "succeeded", job
        assert [f["name"] for f in job["files"]] == ["out.csv"]

        # after the cooldown the same submission is taken and runs
        time.sleep(5)
        again = http.post("/v1/jobs", json={"script": QUICK})
        assert again.status_code == 202, again.text
        assert wait_job(http, again.json()["id"], 120)["status"] == "succeeded"
    wait_for(lambda: not e2b_env.live_sandboxes(), 30, "every sandbox to be gone")


def test_a_job_still_refused_after_its_requeues_fails_with_capacity_and_leaves_one_session(
    serve: Any,
    monkeypatch: pytest.MonkeyPatch,
    e2b_env: Any,
    occupant: Any,
    openai_server: Any,
) -> None:
    server = e2b_server(serve, monkeypatch, cooldown=1, requeues=1)
    key = create_key("acme")
    for _ in range(2):  # the model writes the script once per run of the job
        openai_server.enqueue(CSV_REPLY)
    with server.client(key) as http:
        answer = http.post("/v1/jobs", json={"prompt": "a small table", "formats": ["csv"]})
        assert answer.status_code == 202, answer.text
        job = wait_job(http, answer.json()["id"], 120)
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "capacity" and FULL in job["error"]["message"]
        assert "submit the job again" in job["error"]["hint"]
        assert len(events(job["id"], "requeued")) == 1
        # the first run's new session was removed when it was requeued; the last one stays,
        # with its failed turn, as the job's session
        sessions = http.get("/v1/sessions").json()["data"]
        assert [s["id"] for s in sessions] == [job["session_id"]]
    assert [r.sandbox_id for r in e2b_env.live_sandboxes()] == [occupant.sandbox_id]


def test_the_starting_replica_reaps_a_dead_replicas_sandboxes_and_spares_a_live_ones(
    serve: Any, monkeypatch: pytest.MonkeyPatch, e2b_env: Any
) -> None:
    """Across hosts a pid says nothing: the server judges another replica's sandboxes by that
    replica's heartbeat in the store they share (here: the same home)."""
    import e2b

    lease = 30.0
    monkeypatch.setenv("PROMPTKILN_JOB_LEASE", str(lease))
    with Store.open(Path(os.environ["PROMPTKILN_HOME"])) as store:
        queue.heartbeat(store, "4242@replica-a", [], lease, time.time())
        queue.heartbeat(store, "4343@replica-b", [], lease, time.time())
        store.conn.execute(  # replica-a stopped heartbeating two leases ago
            "UPDATE replicas SET last_seen = ? WHERE id = '4242@replica-a'",
            (time.time() - 2 * lease,),
        )

    def labelled(pid: str, host: str) -> Any:
        metadata = {
            "promptkiln.kind": "sandbox",
            "promptkiln.owner-pid": pid,
            "promptkiln.owner-host": host,
        }
        return e2b.Sandbox.create(template="promptkiln-docs", timeout=120, metadata=metadata)

    dead, live = labelled("4242", "replica-a"), labelled("4343", "replica-b")
    try:
        serve("--backend", "e2b", "--workers", "1")  # ready once its start-up sweep is done
        assert e2b_env.record(dead.sandbox_id) is None
        assert e2b_env.record(live.sandbox_id) is not None
    finally:
        for box in (dead, live):
            box.kill()
