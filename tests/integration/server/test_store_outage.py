"""A PostgreSQL restart under the server's store access (server/db.py), with a PostgreSQL of
this test's own (the suite's shared one is never stopped)."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from promptkiln.server import db


@pytest.fixture
def own_pg() -> Iterator[Any]:
    path = Path(__file__).resolve().parents[2] / "pgserver.py"
    spec = importlib.util.spec_from_file_location("promptkiln_tests_pgserver", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    try:
        server = module.PgServer()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_a_postgres_restart_costs_one_statement_and_through_outage_waits_for_it(
    own_pg: Any, tmp_path: Path
) -> None:
    """Before: a thread's store kept its dead connection for ever, so after a restart every
    worker and heartbeat failed on every statement until the replica was restarted."""
    home = tmp_path / "home"
    db.configure(home, own_pg.create_database())
    try:
        before = db.store_for(home)
        assert before.conn.execute("SELECT 1").fetchone()[0] == 1
        own_pg.halt("fast")  # ends every connection, like a service restart
        own_pg.start()
        with pytest.raises(psycopg.OperationalError) as lost:
            before.conn.execute("SELECT 1")  # the statement that meets the loss fails...
        assert db.is_store_outage(lost.value)
        after = db.store_for(home)  # ...and the next one gets a new connection
        assert after is not before
        assert after.conn.execute("SELECT 2").fetchone()[0] == 2

        own_pg.halt("fast")
        threading.Timer(2.0, own_pg.start).start()
        started = time.monotonic()
        answer = db.through_outage(home, lambda s: s.conn.execute("SELECT 40 + 2").fetchone()[0])
        assert answer == 42
        assert time.monotonic() - started >= 1.5  # it waited for PostgreSQL to come back
        with pytest.raises(ValueError):  # any other error is not retried
            db.through_outage(home, lambda s: int("not a number"))
    finally:
        db.close_thread_stores()
