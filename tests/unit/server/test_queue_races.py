"""Writers racing on one store: threads, each on its own connection, released at once by a barrier.

On PostgreSQL (READ COMMITTED) each of these raced before it took a lock: two event appends read
the same max(seq), two submits both counted the tenant's jobs under its cap, two identical
submits both inserted the Idempotency-Key. SQLite serialises writers, and must answer the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptkiln.records.store import Store
from promptkiln.server import queue
from promptkiln.server.errors import ApiError
from promptkiln.server.tenants import Caps

from .test_queue import callers

THREADS = 12


def hammer(home: Path, url: str | None, work: Callable[[Store, int], Any]) -> list[Any]:
    """Run ``work(store, n)`` in THREADS threads at once; return each outcome (a value, or the
    exception it raised)."""
    outcomes: list[Any] = [None] * THREADS
    start = threading.Barrier(THREADS)

    def one(n: int) -> None:
        with Store.open(home, url) as own:
            start.wait(30)
            try:
                outcomes[n] = work(own, n)
            except Exception as exc:
                outcomes[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def test_events_appended_at_once_to_one_job_are_numbered_without_gaps_or_repeats(
    tmp_path: Path, store_url: str | None
) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t")["t"]
        job_id = queue.submit(store, who, "run", {}, idempotency_key=None, max_queue=9).job["id"]

    def append(own: Store, n: int) -> None:
        for k in range(20):
            queue.append_event(own, job_id, "progress", {"writer": n, "k": k})

    outcomes = hammer(tmp_path, store_url, append)
    assert outcomes == [None] * THREADS
    with Store.open(tmp_path, store_url) as store:
        rows = queue.events_after(store, job_id, 0, limit=10_000)
    assert [r["seq"] for r in rows] == list(range(1, 1 + 1 + THREADS * 20))


@pytest.mark.parametrize("caps", [Caps(max_active_jobs=3, jobs_per_hour=999), Caps(99, 3)])
def test_submits_at_once_never_pass_a_tenants_cap(
    tmp_path: Path, store_url: str | None, caps: Caps
) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t", caps=caps)["t"]

    def submit(own: Store, n: int) -> str:
        return str(
            queue.submit(own, who, "run", {"n": n}, idempotency_key=None, max_queue=99).job["id"]
        )

    outcomes = hammer(tmp_path, store_url, submit)
    made = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, ApiError)]
    assert len(made) == 3 and len(refused) == THREADS - 3, outcomes
    assert {r.status for r in refused} == {429}
    with Store.open(tmp_path, store_url) as store:
        assert queue.status_counts(store)["queued"] == 3


def test_identical_submits_at_once_make_one_job_and_all_get_it(
    tmp_path: Path, store_url: str | None
) -> None:
    with Store.open(tmp_path, store_url) as store:
        who = callers(store, "t")["t"]

    def submit(own: Store, n: int) -> tuple[str, bool]:
        done = queue.submit(own, who, "run", {"same": 1}, idempotency_key="k-1", max_queue=99)
        return str(done.job["id"]), done.created

    outcomes = hammer(tmp_path, store_url, submit)
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert len({job_id for job_id, _ in outcomes}) == 1
    assert [created for _, created in outcomes].count(True) == 1
    with Store.open(tmp_path, store_url) as store:
        assert queue.status_counts(store)["queued"] == 1
