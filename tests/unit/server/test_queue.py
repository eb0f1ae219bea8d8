"""The job queue's SQL on a real SQLite store and a real PostgreSQL: fair claims, caps, idempotency, interruption."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkiln.records.store import Store
from promptkiln.server import queue
from promptkiln.server.errors import ApiError
from promptkiln.server.tenants import Caller, Caps, authenticate, create_key, ensure_tenant


def callers(store: Store, *names: str, caps: Caps | None = None) -> dict[str, Caller]:
    out = {}
    for name in names:
        tenant = ensure_tenant(store, name, caps)
        key_id, key = create_key(store, tenant)
        found = authenticate(store, key)
        assert found is not None and found.key_id == key_id
        out[name] = found
    return out


def test_claims_round_robin_between_tenants(tmp_path: Path, store_url: str | None) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "a", "b", "c")
        for name, n in (("a", 6), ("b", 3), ("c", 2)):
            for i in range(n):
                queue.submit(store, who[name], "run", {"n": i}, idempotency_key=None, max_queue=99)
        order = []
        while (job := queue.claim_next_job(store, "1@host")) is not None:
            order.append(next(n for n, c in who.items() if c.tenant.id == job["tenant_id"]))
            queue.finish_job(store, job["id"], "succeeded")
        assert order == ["a", "b", "c", "a", "b", "c", "a", "b", "a", "a", "a"]


def test_a_running_tenant_waits_behind_an_idle_one(tmp_path: Path, store_url: str | None) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "busy", "idle")
        for _ in range(3):
            queue.submit(store, who["busy"], "run", {}, idempotency_key=None, max_queue=99)
        first = queue.claim_next_job(store, "1@host")
        assert first is not None and first["tenant_id"] == who["busy"].tenant.id
        queue.submit(store, who["idle"], "run", {}, idempotency_key=None, max_queue=99)
        second = queue.claim_next_job(store, "1@host")
        assert second is not None and second["tenant_id"] == who["idle"].tenant.id


def test_caps_queue_bound_and_idempotency(tmp_path: Path, store_url: str | None) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t", caps=Caps(max_active_jobs=2, jobs_per_hour=100))["t"]
        a = queue.submit(store, who, "run", {"x": 1}, idempotency_key="k", max_queue=99)
        again = queue.submit(store, who, "run", {"x": 1}, idempotency_key="k", max_queue=99)
        assert again.job["id"] == a.job["id"] and not again.created
        with pytest.raises(ApiError) as reused:
            queue.submit(store, who, "run", {"x": 2}, idempotency_key="k", max_queue=99)
        assert reused.value.status == 409
        queue.submit(store, who, "run", {}, idempotency_key=None, max_queue=99)
        with pytest.raises(ApiError) as capped:
            queue.submit(store, who, "run", {}, idempotency_key=None, max_queue=99)
        assert capped.value.status == 429 and capped.value.headers["Retry-After"]
        other = callers(store, "u")["u"]
        with pytest.raises(ApiError) as full:
            queue.submit(store, other, "run", {}, idempotency_key=None, max_queue=2)
        assert full.value.status == 503 and full.value.headers["Retry-After"]


def test_only_a_dead_owners_running_jobs_are_interrupted(
    tmp_path: Path, store_url: str | None
) -> None:
    import os
    import socket

    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t")["t"]
        for _ in range(2):
            queue.submit(store, who, "run", {}, idempotency_key=None, max_queue=99)
        live = queue.claim_next_job(store, f"{os.getpid()}@{socket.gethostname()}")
        dead = queue.claim_next_job(store, f"999999999@{socket.gethostname()}")
        assert live is not None and dead is not None
        assert queue.mark_interrupted(store) == [dead["id"]]
        assert queue.job_status(store, live["id"]) == ("running", False)
        assert queue.job_status(store, dead["id"])[0] == "interrupted"
        assert queue.status_counts(store)["interrupted"] == 1


def test_claimers_on_postgresql_skip_locked_rows_and_take_each_job_once(
    tmp_path: Path, pg_url: str
) -> None:
    """Four claimers, each on its own connection, race for 60 jobs: every job is taken once."""
    import threading

    with Store.open(tmp_path, pg_url) as store:
        who = callers(store, "a", "b")
        for i in range(60):
            caller = who["a" if i % 2 else "b"]
            queue.submit(store, caller, "run", {"n": i}, idempotency_key=None, max_queue=99)
    taken: list[str] = []
    lock = threading.Lock()

    def claimer(n: int) -> None:
        with Store.open(tmp_path, pg_url) as own:
            while (job := queue.claim_next_job(own, f"{n}@host")) is not None:
                with lock:
                    taken.append(job["id"])
                queue.finish_job(own, job["id"], "succeeded")

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(taken) == 60 and len(set(taken)) == 60
    with Store.open(tmp_path, pg_url) as store:
        assert queue.status_counts(store)["succeeded"] == 60


def test_leases_are_renewed_by_the_heartbeat_and_expire_without_it(
    tmp_path: Path, store_url: str | None
) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "a")
        for i in range(2):
            queue.submit(store, who["a"], "run", {"n": i}, idempotency_key=None, max_queue=99)
        kept = queue.claim_next_job(store, "1@replica-a", lease_s=60)
        lost = queue.claim_next_job(store, "2@replica-b", lease_s=60)
        assert kept is not None and lost is not None
        store.conn.execute("UPDATE jobs SET lease_until = 0")  # both leases ran out ...
        queue.heartbeat(store, "1@replica-a", [kept["id"]], 60, 0.0)  # ... a renews its own
        assert queue.expire_leases(store) == [lost["id"]]
        assert queue.job_status(store, lost["id"])[0] == "interrupted"
        assert queue.job_status(store, kept["id"])[0] == "running"
        queue.finish_job(store, lost["id"], "succeeded")  # a late finish changes nothing
        assert queue.job_status(store, lost["id"])[0] == "interrupted"
        assert [r["id"] for r in queue.replicas_seen(store)] == ["1@replica-a"]
        assert not queue.replica_gone(store, "1@replica-a", 60)
        assert not queue.replica_gone(store, "9@never-seen", 60)


def test_pages_walk_every_job_once_newest_first(tmp_path: Path, store_url: str | None) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t", "u")
        ids = [
            queue.submit(store, who["t"], "run", {"n": i}, idempotency_key=None, max_queue=99).job[
                "id"
            ]
            for i in range(5)
        ]
        queue.submit(store, who["u"], "run", {}, idempotency_key=None, max_queue=99)
        seen: list[str] = []
        after = None
        while True:
            rows = queue.list_jobs(store, who["t"].tenant.id, limit=2, starting_after=after)
            seen += [r["id"] for r in rows[:2]]
            if len(rows) <= 2:
                break
            after = rows[1]["id"]
        assert seen == list(reversed(ids))


def test_a_job_can_name_an_engine_and_a_bad_one_is_a_config_error() -> None:
    from promptkiln.config import load_settings
    from promptkiln.errors import ConfigError
    from promptkiln.server.job_terms import job_settings

    base = load_settings()
    assert base.engine == "local"
    assert job_settings(base, {"engine": "gemini"}).engine == "gemini"
    assert job_settings(base, {}).engine == "local"
    with pytest.raises(ConfigError):
        job_settings(base, {"engine": "skynet"})


def test_a_requeued_job_keeps_its_place_and_goes_back_a_bounded_number_of_times(
    tmp_path: Path, store_url: str | None
) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t")["t"]
        first, second = (
            queue.submit(store, who, "run", {"n": i}, idempotency_key=None, max_queue=9).job["id"]
            for i in range(2)
        )
        claimed = queue.claim_next_job(store, "1@host")
        assert claimed is not None and claimed["id"] == first
        assert queue.requeue_job(store, first, {"code": "capacity"}, most=1)
        assert queue.job_status(store, first) == ("queued", False)
        again = queue.claim_next_job(store, "2@host")  # its place kept: ahead of the second
        assert again is not None and again["id"] == first and again["worker"] == "2@host"
        assert not queue.requeue_job(store, first, {"code": "capacity"}, most=1)  # bound met
        assert queue.job_status(store, first) == ("running", False)
        events = queue.events_after(store, first, 0)
        assert [e["type"] for e in events].count("requeued") == 1
        other = queue.claim_next_job(store, "2@host")
        assert other is not None and other["id"] == second
        assert queue.request_cancel(store, who.tenant.id, second) == "running"
        assert not queue.requeue_job(store, second, {"code": "capacity"}, most=5)


def test_a_job_may_shorten_the_time_budget_but_not_lengthen_it() -> None:
    from promptkiln.config import load_settings
    from promptkiln.server.job_terms import job_settings

    base = load_settings(time_budget=180)
    assert job_settings(base, {"time_budget": 60}).time_budget == 60
    assert job_settings(base, {"time_budget": 900}).time_budget == 180
    assert job_settings(base, {}).time_budget == 180
    assert job_settings(load_settings(time_budget=0), {"time_budget": 900}).time_budget == 900
