"""The store on a real SQLite file and on a real PostgreSQL (started by the suite; every test
that takes ``store_url`` runs against both): blobs, migrations, the hash chain, concurrency,
sessions."""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from promptkiln.cli.runs import register as register_runs
from promptkiln.cli.sessions import parse_age, register
from promptkiln.config import load_settings
from promptkiln.errors import PlatformError, UsageError
from promptkiln.making.pipeline import SandboxRun
from promptkiln.making.replay import same_content
from promptkiln.making.sessions import guess_formats, history_messages
from promptkiln.records.dialect import placeholders
from promptkiln.records.records import record_sandbox_run, run_body
from promptkiln.records.store import (
    GENESIS,
    MIGRATIONS,
    BlobRef,
    NewFile,
    Store,
    chain_hash,
    sha256_hex,
)
from promptkiln.sandbox.base import Artifact, CapturedStream, InputFile, RunResult, SandboxInfo


@pytest.fixture
def store(tmp_path: Path, store_url: str | None) -> Iterator[Store]:
    s = Store.open(tmp_path / "home", store_url)
    yield s
    s.close()


def _append(store: Store, n: int, prefix: str = "r") -> None:
    for i in range(n):
        store.append_run({"id": f"{prefix}{i:04d}", "kind": "run", "n": i})


def _tamper(where: Store | Path, sql: str, *args: object) -> None:
    """Edit the database as an attacker with file (or superuser) access would: drop the guard,
    change a row."""
    if isinstance(where, Store) and where.url:
        import psycopg

        with psycopg.connect(where.url, autocommit=True) as pg:
            pg.execute("ALTER TABLE runs DISABLE TRIGGER USER")
            pg.execute(placeholders(sql), args or None)  # type: ignore[arg-type]
            pg.execute("ALTER TABLE runs ENABLE TRIGGER USER")
        return
    home = where.home if isinstance(where, Store) else where
    conn = sqlite3.connect(home / "promptkiln.db", isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS runs_no_update")
    conn.execute("DROP TRIGGER IF EXISTS runs_no_delete")
    conn.execute(sql, args)
    conn.close()


# -- blobs and schema ---------------------------------------------------------------------------


def test_blob_roundtrip_is_content_addressed_and_checks_its_hash(store: Store) -> None:
    sha = store.blobs.put(b"hello")
    assert sha == sha256_hex(b"hello")
    if store.url:  # PostgreSQL: the bytes are a bytea row every replica reads
        assert store.blobs.put(b"hello") == sha and store.blobs.get(sha) == b"hello"
        store.conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"evil", sha))
        assert store.blobs.get(sha) is None  # a corrupted blob is never handed out
        assert store.blobs.get("../../etc/passwd") is None
        assert not (store.home / "blobs").exists()  # nothing in the data directory
        return
    assert store.blobs.path(sha) == store.home / "blobs" / sha[:2] / sha[2:]
    assert store.blobs.put(b"hello") == sha
    assert store.blobs.get(sha) == b"hello"
    store.blobs.path(sha).write_bytes(b"evil")
    assert store.blobs.get(sha) is None  # a corrupted blob is never handed out
    assert not list(store.blobs.path(sha).parent.glob(".tmp-*"))
    with pytest.raises(ValueError):
        store.blobs.path("../../etc/passwd")


def test_schema_is_versioned_and_wal(tmp_path: Path, store_url: str | None) -> None:
    with Store.open(tmp_path, store_url) as s:
        assert s.schema_version == len(MIGRATIONS)
        if not store_url:
            assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store.open(tmp_path, store_url) as s:  # reopening applies nothing twice
        assert s.schema_version == len(MIGRATIONS)
        s.conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(PlatformError, match="newer than this"):
        Store.open(tmp_path, store_url)


def _columns(store: Store) -> dict[str, set[str]]:
    """Every table's columns, from the engine's own catalogue."""
    if store.url:
        rows = store.conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    else:
        tables = [
            r[0]
            for r in store.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        rows = [(t, c[1]) for t in tables for c in store.conn.execute(f"PRAGMA table_info({t})")]
    out: dict[str, set[str]] = {}
    for table, column in rows:
        if column != "rowid":  # implicit on SQLite, explicit on PostgreSQL
            out.setdefault(table, set()).add(column)
    return out


def test_one_migration_list_builds_the_same_schema_on_both(tmp_path: Path, pg_url: str) -> None:
    with Store.open(tmp_path / "a") as lite, Store.open(tmp_path / "b", pg_url) as pg:
        assert lite.schema_version == pg.schema_version == len(MIGRATIONS)
        assert _columns(lite) == _columns(pg)
        assert {"runs", "runs_head", "blobs", "jobs", "replicas"} <= set(_columns(pg))


def test_a_store_at_an_older_schema_is_migrated(tmp_path: Path, store_url: str | None) -> None:
    """A store left at version 2 (before the shared-store migration), with records in it, is
    brought to the newest version on open; its chain still verifies and goes on."""
    old = Store.__new__(Store)
    old.home, old.url = tmp_path, store_url
    Store.__init__(old, tmp_path, store_url)  # a current store ...
    old.close()
    # ... rebuilt from scratch at version 2 to stand for one written by the previous release
    _drop_all(tmp_path, store_url)
    two = _store_at(tmp_path, store_url, 2)
    assert two.schema_version == 2
    two.conn.execute(
        "INSERT INTO runs(id, created, kind, session_id, body, prev_hash, hash) "
        "VALUES (?, 0, 'run', NULL, ?, ?, ?)",
        (
            "old1",
            '{"id":"old1","kind":"run"}',
            GENESIS,
            chain_hash(GENESIS, '{"id":"old1","kind":"run"}'),
        ),
    )
    two.close()
    with Store.open(tmp_path, store_url) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert s.conn.execute("SELECT seq FROM runs_head").fetchone()[0] == 1  # backfilled
        s.append_run({"id": "new1", "kind": "run"})
        assert s.verify().ok and s.verify().checked == 2
        assert s.conn.execute("SELECT lease_until FROM jobs").fetchall() == []


def _drop_all(home: Path, store_url: str | None) -> None:
    if store_url:
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute("DROP SCHEMA public CASCADE")
            pg.execute("CREATE SCHEMA public")
    else:
        (home / "promptkiln.db").unlink()


def _store_at(home: Path, store_url: str | None, version: int) -> Store:
    """A store migrated only up to ``version``."""
    s = Store.__new__(Store)
    s.home, s.url = home, store_url
    real_migrate = Store._migrate
    Store._migrate = lambda self: None  # type: ignore[method-assign]
    try:
        Store.__init__(s, home, store_url)
    finally:
        Store._migrate = real_migrate  # type: ignore[method-assign]
    s._migrate(version)
    return s


# -- the hash chain -----------------------------------------------------------------------------


def test_chain_links_every_record_and_verifies(store: Store) -> None:
    _append(store, 5)
    records = list(reversed(store.runs()))
    assert records[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
    assert store.verify().ok and store.verify().checked == 5


def test_records_are_append_only(store: Store) -> None:
    _append(store, 2)
    with pytest.raises(Exception, match="append-only"):
        store.conn.execute("UPDATE runs SET body = '{}' WHERE seq = 1")
    with pytest.raises(Exception, match="append-only"):
        store.conn.execute("DELETE FROM runs")
    if store.url:  # PostgreSQL's TRUNCATE skips row triggers; a statement trigger refuses it
        with pytest.raises(Exception, match="append-only"):
            store.conn.execute("TRUNCATE runs")
    assert store.verify().checked == 2


def test_verify_names_an_edited_record(store: Store) -> None:
    _append(store, 10)
    row = store.conn.execute("SELECT body FROM runs WHERE seq = 4").fetchone()
    body = json.loads(row[0])
    body["n"] = 999
    _tamper(store, "UPDATE runs SET body = ? WHERE seq = 4", json.dumps(body))
    report = store.verify()
    assert not report.ok
    assert (report.first_bad_seq, report.first_bad_id) == (4, "r0003")
    assert "edited" in (report.reason or "")


def test_verify_sees_a_rehashed_edit_through_the_next_link(store: Store) -> None:
    """An attacker who also recomputes the edited record's own hash breaks the next link."""
    _append(store, 5)
    r = store.conn.execute("SELECT prev_hash FROM runs WHERE seq = 2").fetchone()
    body = json.dumps({"id": "r0001", "kind": "run", "n": -1}, separators=(",", ":"))
    _tamper(
        store,
        "UPDATE runs SET body = ?, hash = ? WHERE seq = 2",
        body,
        chain_hash(r[0], body),
    )
    report = store.verify()
    assert not report.ok and report.first_bad_seq == 3


def test_verify_sees_deleted_records_in_the_middle_and_at_the_end(
    store: Store, tmp_path: Path
) -> None:
    _append(store, 6)
    _tamper(store, "DELETE FROM runs WHERE seq = 6")
    report = store.verify()
    assert not report.ok and "missing" in (report.reason or "")
    _tamper(store, "DELETE FROM runs WHERE seq = 3")
    report = store.verify()
    assert not report.ok and report.first_bad_seq == 4


def test_verify_sees_an_edited_index_column(store: Store) -> None:
    _append(store, 3)
    _tamper(store, "UPDATE runs SET kind = 'make' WHERE seq = 2")
    assert store.verify().first_bad_seq == 2


APPENDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from promptkiln.records.store import Store
    home, tag, n, url = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] or None
    with Store.open(home, url) as s:
        print("ready", flush=True)
        while not (home / "go").exists():
            time.sleep(0.005)
        for i in range(n):
            s.append_run({"id": f"{tag}-{i}", "kind": "run", "i": i})
            time.sleep(0.002)  # spread the appends so the two writers really overlap
    """
)


def test_two_processes_appending_at_once_lose_nothing(
    tmp_path: Path, store_url: str | None
) -> None:
    home = tmp_path / "home"
    Store.open(home, store_url).close()
    home.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(home), tag, "200", store_url or ""],
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    started = time.monotonic()
    (home / "go").touch()
    for p in procs:
        assert p.wait(timeout=120) == 0
    elapsed = time.monotonic() - started
    with Store.open(home, store_url) as s:
        ids = {r.id for r in s.runs()}
        assert len(ids) == 400
        assert {f"a-{i}" for i in range(200)} | {f"b-{i}" for i in range(200)} == ids
        # interleaved, not one after the other: both really wrote at once
        kinds = [r.id[0] for r in reversed(s.runs())]
        assert sum(1 for x, y in itertools.pairwise(kinds) if x != y) > 1
        assert s.verify().ok
    print(f"\n400 appends from 2 processes in {elapsed:.2f} s ({400 / elapsed:.0f}/s)")


def test_a_process_killed_mid_append_leaves_a_usable_store(
    tmp_path: Path, store_url: str | None
) -> None:
    home = tmp_path / "home"
    home.mkdir(parents=True)
    p = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(home), "k", "100000", store_url or ""],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    (home / "go").touch()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Store.open(home, store_url) as s:
            if len(s.runs(limit=60)) >= 50:
                break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    with Store.open(home, store_url) as s:
        report = s.verify()
        assert report.ok and report.checked >= 50
        s.append_run({"id": "after", "kind": "run"})
        assert s.verify().ok


# -- ids, sessions, privacy ---------------------------------------------------------------------


def test_ids_resolve_by_unique_prefix(store: Store) -> None:
    store.create_session("abc111", "one", "m", None, "docker")
    store.create_session("abc222", "two", "m", None, "docker")
    assert store.resolve_session("abc1") == "abc111"
    with pytest.raises(UsageError, match="ambiguous"):
        store.resolve_session("abc")
    with pytest.raises(UsageError, match="no session"):
        store.resolve_session("ff")
    with pytest.raises(UsageError, match="not a session id"):
        store.resolve_session("x'; DROP TABLE runs; --")
    assert store.last_session() == "abc222"


def _turn(store: Store, sid: str, prompt: str, files: list[NewFile]) -> list[sqlite3.Row]:
    n = store.begin_turn(sid, prompt, ["xlsx"], True)
    return store.end_turn(sid, n, ok=True, run_ids=[f"{sid}-{n}"], script="x=1", files=files)


def test_files_are_versioned_per_turn_and_unchanged_bytes_add_no_version(store: Store) -> None:
    store.create_session("s1", "t", "m", None, "docker")
    _turn(store, "s1", "p1", [NewFile("r.xlsx", b"v1", "output", "t", None)])
    added = _turn(
        store,
        "s1",
        "p2",
        [
            NewFile("r.xlsx", b"v2", "output", "t", None),
            NewFile("d.csv", b"d", "output", "t", None),
        ],
    )
    assert [(r["name"], r["version"]) for r in added] == [("r.xlsx", 2), ("d.csv", 1)]
    assert _turn(store, "s1", "p3", [NewFile("d.csv", b"d", "output", "t", None)]) == []
    assert [(r["name"], r["version"]) for r in store.workspace("s1")] == [
        ("d.csv", 1),
        ("r.xlsx", 2),
    ]
    v1 = next(r for r in store.files("s1") if r["version"] == 1 and r["name"] == "r.xlsx")
    assert store.file_bytes(v1) == b"v1"


def test_an_interrupted_turn_changes_nothing_and_the_next_turn_goes_on(store: Store) -> None:
    store.create_session("s1", "t", "m", None, "docker")
    _turn(store, "s1", "p1", [NewFile("a.txt", b"1", "output", "t", None)])
    store.begin_turn("s1", "killed here", ["txt"], True)  # the process dies: no end_turn
    assert [r["version"] for r in store.workspace("s1")] == [1]
    _turn(store, "s1", "p3", [NewFile("a.txt", b"2", "output", "t", None)])
    assert [t["status"] for t in store.turns("s1")] == ["ok", "running", "ok"]
    assert [t["number"] for t in store.turns("s1")] == [1, 2, 3]


def test_rm_deletes_only_blobs_no_other_session_or_run_references(store: Store) -> None:
    for sid in ("s1", "s2"):
        store.create_session(sid, "t", "m", None, "docker")
    _turn(store, "s1", "p", [NewFile("own.txt", b"own", "output", "t", None)])
    _turn(store, "s1", "p", [NewFile("shared.txt", b"shared", "output", "t", None)])
    _turn(store, "s2", "p", [NewFile("shared.txt", b"shared", "output", "t", None)])
    store.append_run(
        {"id": "x", "kind": "make", "session_id": "s1"}, [BlobRef("input", "in.csv", b"input")]
    )
    store.append_run({"id": "y", "kind": "run"}, [BlobRef("input", "kept.csv", b"kept")])
    assert store.remove_session("s1") == 2  # own.txt and the run's in.csv
    assert store.blobs.get(sha256_hex(b"own")) is None
    assert store.blobs.get(sha256_hex(b"input")) is None
    assert store.blobs.get(sha256_hex(b"shared")) == b"shared"
    assert store.blobs.get(sha256_hex(b"kept")) == b"kept"
    assert store.verify().ok  # run records stay, only their blob references went
    assert store.run_blobs("x") == []


def test_gc_removes_old_sessions_and_orphan_blobs(store: Store) -> None:
    store.create_session("old", "t", "m", None, "docker")
    store.create_session("new", "t", "m", None, "docker")
    store.conn.execute("UPDATE sessions SET updated = 0 WHERE id = 'old'")
    orphan = store.blobs.put(b"left by a killed process")
    removed, blobs = store.gc(parse_age("30d"))
    assert removed == ["old"] and blobs == 1
    assert store.blobs.get(orphan) is None
    assert [r["id"] for r in store.sessions()] == ["new"]


def _sandbox_run(tmp_path: Path) -> SandboxRun:
    out = tmp_path / "out.txt"
    out.write_bytes(b"result")
    art = Artifact("out.txt", str(out), 6, sha256_hex(b"result"), "text/plain")
    result = RunResult(0, CapturedStream(b"secret stdout"), CapturedStream(b"", 3), 0.5)
    info = SandboxInfo("docker", "img:latest", "runc", extra={"image_id": "sha256:abc"})
    return SandboxRun("run123456789", result, [art], [], info, {"run_s": 0.5})


def test_record_sandbox_run_keeps_everything_and_replay_blobs(
    tmp_path: Path, store_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_url:
        monkeypatch.setenv("PROMPTKILN_STORE_URL", store_url)
    settings = load_settings()
    assert settings.store_url == store_url
    rec = record_sandbox_run(
        settings, "run", _sandbox_run(tmp_path), script="print(1)", inputs=[InputFile("a", b"in")]
    )
    b = rec.body
    assert (b["exit_code"], b["termination"], b["script"]) == (0, "exited", "print(1)")
    assert b["sandbox"]["image_id"] == "sha256:abc" and b["network"] == "none"
    assert b["stdout"] == {"text": "secret stdout", "dropped": 0}
    assert b["stderr"]["dropped"] == 3
    assert b["outputs"] == [
        {"name": "out.txt", "bytes": 6, "type": "text/plain", "sha256": sha256_hex(b"result")}
    ]
    assert b["limits"]["timeout_s"] == settings.limits.timeout
    with Store.open(settings.home, store_url) as s:
        assert {role for role, _, _ in s.run_blobs(rec.id)} == {"input", "output"}
        assert s.blobs.get(sha256_hex(b"result")) == b"result"


def test_hashes_mode_keeps_no_prompt_script_output_or_stream_text(tmp_path: Path) -> None:
    settings = load_settings(record_content="hashes")
    body = run_body(
        settings, "make", run=_sandbox_run(tmp_path), script="s", prompt="secret", response="r"
    )
    text = json.dumps(body)
    assert "secret" not in text and body["prompt"]["sha256"] == sha256_hex(b"secret")
    rec = record_sandbox_run(
        settings, "run", _sandbox_run(tmp_path), script="s", inputs=[InputFile("a", b"in")]
    )
    with Store.open(settings.home) as s:
        assert s.run_blobs(rec.id) == [] and not list(s.blobs.all())


# -- conversation and comparisons -----------------------------------------------------------------


def test_history_keeps_recent_ok_turns_within_budget(store: Store) -> None:
    store.create_session("s", "t", "m", None, "docker")
    for i in range(6):
        n = store.begin_turn("s", f"prompt {i}", ["pdf"], True)
        store.end_turn("s", n, ok=i != 4, run_ids=[], script=f"print({i})" + "#" * 100 * i)
    msgs = history_messages(store.turns("s"), max_turns=3)
    assert [m.content for m in msgs if m.role == "user"] == ["prompt 2", "prompt 3", "prompt 5"]
    msgs = history_messages(store.turns("s"), max_chars=700)
    assert [m.content for m in msgs if m.role == "user"] == ["prompt 5"]
    assert "too long" in history_messages(store.turns("s"), max_chars=10)[1].content


def test_guess_formats() -> None:
    assert guess_formats("Also export the raw data as XLSX", ["pdf"]) == ["xlsx"]
    assert guess_formats("Make the chart a pie chart", ["xlsx"]) == ["xlsx"]
    assert guess_formats("Q1 report PDF with a chart as JPEG", []) == ["pdf", "jpg"]


def test_same_content_sees_through_metadata() -> None:
    from PIL import Image, PngImagePlugin

    def png(text: str, color: int = 0) -> bytes:
        info = PngImagePlugin.PngInfo()
        info.add_text("Creation Time", text)
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), (color, 0, 0)).save(buf, "PNG", pnginfo=info)
        return buf.getvalue()

    assert png("a") != png("b") and same_content(png("a"), png("b")) is True
    assert same_content(png("a"), png("a", 255)) is False

    def xlsx(core: str, value: int = 1) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("docProps/core.xml", core)
            z.writestr("xl/worksheets/sheet1.xml", f"<v>{value}</v>")
        return buf.getvalue()

    assert same_content(xlsx("t1"), xlsx("t2")) is True
    assert same_content(xlsx("t1"), xlsx("t1", 2)) is False
    assert same_content(b"plain", b"other") is None

    from reportlab.pdfgen import canvas

    def pdf(stamp: str, words: str = "Total 42") -> bytes:
        buf = io.BytesIO()
        c = canvas.Canvas(buf, invariant=False)
        c.setTitle(stamp)
        c.drawString(72, 720, words)
        c.save()
        return buf.getvalue()

    assert same_content(pdf("a"), pdf("b")) is True
    assert same_content(pdf("a"), pdf("a", "Total 43")) is False


# -- the commands -------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def noop() -> None:  # a second command, so sub-apps route by name
        pass

    register(app)
    register_runs(app)
    return app


def test_cli_lists_shows_and_verifies(
    tmp_path: Path, store_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_url:  # the commands use the configured store: here the environment's
        monkeypatch.setenv("PROMPTKILN_STORE_URL", store_url)
    settings = load_settings()
    rec = record_sandbox_run(settings, "run", _sandbox_run(tmp_path), script="print(1)")
    runner = CliRunner()
    app = _app()
    r = runner.invoke(app, ["runs"], catch_exceptions=False)
    assert rec.id in r.output
    r = runner.invoke(app, ["runs", "show", rec.id[:6]], catch_exceptions=False)
    assert "print(1)" in r.output and "sha256:abc" in r.output
    r = runner.invoke(app, ["runs", "verify"], catch_exceptions=False)
    assert r.exit_code == 0 and "1 record(s)" in r.output
    with Store.open(settings.home, store_url) as s:
        _tamper(s, "UPDATE runs SET body = replace(body, 'print(1)', 'print(2)')")
    r = runner.invoke(app, ["runs", "verify"], catch_exceptions=False)
    assert r.exit_code == 2 and "TAMPERED: record #1" in r.output
    r = runner.invoke(app, ["sessions"], catch_exceptions=False)
    assert "no sessions yet" in r.output
    with pytest.raises(UsageError):
        runner.invoke(app, ["sessions", "show", "abc"], catch_exceptions=False)


def test_parse_age() -> None:
    assert parse_age("30d") == 30 * 86400 and parse_age("90m") == 5400
    with pytest.raises(UsageError):
        parse_age("soon")


def test_a_config_file_store_url_is_used_and_doctor_reports_it(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptkiln.cli.doctor import _store_check

    lite = _store_check(load_settings())
    assert lite.status == "ok" and "SQLite" in lite.detail and "promptkiln.db" in lite.detail
    config = Path(os.environ["PROMPTKILN_CONFIG"])
    config.write_text(f'store_url = "{pg_url}"\n')
    settings = load_settings()
    assert settings.store_url == pg_url
    record_sandbox_run(settings, "run", _sandbox_run(tmp_path), script="print(1)")
    with Store.open(tmp_path / "elsewhere", pg_url) as s:
        assert s.verify().checked == 1  # the record went to PostgreSQL, not the home
    pg = _store_check(settings)
    assert pg.status == "ok" and "PostgreSQL 1" in pg.detail
    assert f"schema version {len(MIGRATIONS)}/{len(MIGRATIONS)}" in pg.detail
    assert "queue depth 0" in pg.detail and "postgres@127.0.0.1" in pg.detail


def test_a_bad_store_url_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptkiln.errors import ConfigError

    monkeypatch.setenv("PROMPTKILN_STORE_URL", "mysql://x")
    with pytest.raises(ConfigError, match="store_url must start with postgresql://"):
        load_settings()
    monkeypatch.setenv("PROMPTKILN_STORE_URL", "postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(PlatformError, match="cannot connect to the PostgreSQL store") as err:
        Store.open(Path("/nonexistent"), load_settings().store_url)
    assert "secret" not in str(err.value)


def test_sql_is_translated_for_postgresql_outside_quotes() -> None:
    from promptkiln.records.dialect import pg_statements

    assert placeholders("SELECT '?%' , ? WHERE a LIKE 'x%' AND b = ?") == (
        "SELECT '?%%' , %s WHERE a LIKE 'x%%' AND b = %s"
    )
    trigger = "CREATE TRIGGER t BEFORE DELETE ON runs\n BEGIN SELECT RAISE(ABORT, 'no'); END;"
    out = pg_statements(trigger)
    assert len(out) == 3 and "plpgsql" in out[0] and "TRUNCATE" in out[2]
    assert pg_statements("CREATE TABLE x(seq INTEGER PRIMARY KEY AUTOINCREMENT, t REAL)") == [
        "CREATE TABLE x(seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        "t DOUBLE PRECISION)"
    ]
