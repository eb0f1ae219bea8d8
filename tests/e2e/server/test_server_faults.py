"""Faults under load, small: the representative case of ``make faults``
(benchmarks/bench_faults.py, whose table has all four) and the engine-down requeue."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import create_key, wait_job

pytestmark = [pytest.mark.docker]

QUICK = "open('out.csv', 'w').write('n\\n1\\n')\n"


def _bench_faults() -> ModuleType:
    name = "promptkiln_bench_faults"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_faults.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_kill_9_of_a_replica_under_load_loses_no_job_and_no_file(
    pg_server: Any, tmp_path: Path
) -> None:
    """8 jobs from 2 tenants on 2 replicas; one replica is kill -9ed while jobs run and started
    again: every job ends succeeded (its file byte for byte) or interrupted, none runs twice,
    the chain verifies."""
    faults = _bench_faults()
    row = faults.run_fault("kill9", pg_server, tmp_path, jobs=8, tenants=2, down_s=0)
    assert row.ok, row
    assert sum(row.statuses.values()) == 8, row
    assert set(row.statuses) <= {"succeeded", "interrupted"}, row
    assert row.statuses["succeeded"] >= 4, row


def test_a_job_that_meets_a_stopped_engine_goes_back_to_the_queue(
    serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before: a Docker engine restart failed every job the workers took while it was down,
    one after another within seconds. Now a job whose sandbox could not start is put back in
    the queue (at most ``e2b.capacity_requeues`` times) while the workers hold off; an engine
    that stays down ends it with the engine's error and a hint."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setenv("PROMPTKILN_POOL__SIZE", "0")
    monkeypatch.setenv("PROMPTKILN_E2B__CAPACITY_COOLDOWN", "0.5")
    monkeypatch.setenv("PROMPTKILN_E2B__CAPACITY_REQUEUES", "2")
    server = serve("--workers", "1")
    with server.client(create_key("acme")) as http:
        job_id = http.post("/v1/jobs", json={"script": QUICK}).json()["id"]
        job = wait_job(http, job_id, 60)
        events = http.get(f"/v1/jobs/{job_id}/events").text
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "engine_error", job
    assert "cannot reach the Docker engine" in job["error"]["message"]
    assert "stayed unreachable" in job["error"]["hint"]
    assert events.count("event: requeued") == 2 and "engine_unreachable" in events, events
    assert events.count('"running"') == 3  # claimed three times, never started
