"""The one migration list for both stores (SQLite and PostgreSQL).

Written in SQLite's spelling; :func:`promptkiln.records.dialect.pg_statements` translates the few
SQLite-only phrases for PostgreSQL, so both stores run the same list and reach the same schema.
"""

from __future__ import annotations

from promptkiln.records.dialect import pg_statements, split_statements

#: Schema migrations: migration ``i`` brings the schema to version ``i + 1``. Append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sessions(
        id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT NOT NULL, api_base TEXT,
        backend TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
    CREATE TABLE turns(
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number INTEGER NOT NULL, status TEXT NOT NULL, prompt TEXT, prompt_sha256 TEXT NOT NULL,
        formats TEXT NOT NULL, script TEXT, problem TEXT, run_ids TEXT NOT NULL DEFAULT '[]',
        pid INTEGER, created REAL NOT NULL, finished REAL, PRIMARY KEY(session_id, number));
    CREATE TABLE files(
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name TEXT NOT NULL, version INTEGER NOT NULL, turn INTEGER NOT NULL, role TEXT NOT NULL,
        sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, media_type TEXT NOT NULL, delivered TEXT,
        created REAL NOT NULL, PRIMARY KEY(session_id, name, version));
    CREATE INDEX files_sha ON files(sha256);
    CREATE TABLE runs(
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created REAL NOT NULL,
        kind TEXT NOT NULL, session_id TEXT, body TEXT NOT NULL, prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL);
    CREATE INDEX runs_session ON runs(session_id);
    CREATE TRIGGER runs_no_update BEFORE UPDATE ON runs
        BEGIN SELECT RAISE(ABORT, 'run records are append-only'); END;
    CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
        BEGIN SELECT RAISE(ABORT, 'run records are append-only'); END;
    CREATE TABLE run_blobs(
        run_id TEXT NOT NULL, session_id TEXT, role TEXT NOT NULL, name TEXT NOT NULL,
        sha256 TEXT NOT NULL);
    CREATE INDEX run_blobs_sha ON run_blobs(sha256);
    CREATE INDEX run_blobs_run ON run_blobs(run_id);
    """,
    # 2: the server (promptkiln.server): tenants and their hashed API keys, the job queue and its
    # events, uploaded and produced files, idempotency keys, and which tenant owns a session or a
    # run record. Portable SQL (SQLite and PostgreSQL; times are DOUBLE PRECISION because REAL
    # is 4 bytes in PostgreSQL); every row carries its tenant.
    """
    CREATE TABLE tenants(
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created DOUBLE PRECISION NOT NULL,
        max_active_jobs INTEGER NOT NULL, jobs_per_hour INTEGER NOT NULL,
        upload_bytes_per_hour BIGINT NOT NULL, limits_ceiling TEXT NOT NULL);
    CREATE TABLE api_keys(
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        key_hash TEXT NOT NULL UNIQUE, created DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION, last_used DOUBLE PRECISION);
    CREATE TABLE jobs(
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, kind TEXT NOT NULL,
        status TEXT NOT NULL, request TEXT NOT NULL, session_id TEXT, result TEXT, error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0, worker TEXT, created DOUBLE PRECISION NOT NULL,
        started DOUBLE PRECISION, finished DOUBLE PRECISION);
    CREATE INDEX jobs_status ON jobs(status, created);
    CREATE INDEX jobs_tenant ON jobs(tenant_id, created);
    CREATE TABLE job_events(
        job_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL, PRIMARY KEY(job_id, seq));
    CREATE TABLE server_files(
        id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, job_id TEXT, role TEXT NOT NULL,
        name TEXT NOT NULL, size BIGINT NOT NULL, media_type TEXT NOT NULL, sha256 TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL);
    CREATE INDEX server_files_tenant ON server_files(tenant_id, created);
    CREATE INDEX server_files_job ON server_files(job_id);
    CREATE TABLE idempotency_keys(
        tenant_id TEXT NOT NULL, idem_key TEXT NOT NULL, request_sha256 TEXT NOT NULL,
        job_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, PRIMARY KEY(tenant_id, idem_key));
    CREATE TABLE tenant_sessions(
        session_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL);
    CREATE INDEX tenant_sessions_tenant ON tenant_sessions(tenant_id);
    CREATE TABLE tenant_runs(
        run_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_id TEXT, job_id TEXT,
        created DOUBLE PRECISION NOT NULL);
    CREATE INDEX tenant_runs_tenant ON tenant_runs(tenant_id, created);
    """,
    # 3: the shared store. ``blobs`` holds the PostgreSQL store's blobs (bytea, one namespace
    # per user; the SQLite store keeps its blobs in the data directory and leaves this table
    # empty). ``runs_head`` is the last record's seq and hash, written in the append's
    # transaction, so verify sees a cut tail on both (PostgreSQL sequences are not
    # transactional). ``replicas`` are the server processes seen (doctor lists them); a job's
    # ``lease_until`` is renewed by its replica's heartbeat.
    """
    CREATE TABLE blobs(
        ns TEXT NOT NULL, sha256 TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY(ns, sha256));
    CREATE TABLE runs_head(
        id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL);
    INSERT INTO runs_head(id, seq, hash) SELECT 1, seq, hash FROM runs ORDER BY seq DESC LIMIT 1;
    CREATE TABLE replicas(
        id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
        started DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL);
    ALTER TABLE jobs ADD COLUMN lease_until DOUBLE PRECISION;
    """,
)


def statements(version: int, dialect: str) -> list[str]:
    """The statements of migration ``version`` (0-based) for ``dialect``."""
    out = split_statements(MIGRATIONS[version])
    if dialect == "postgresql":
        return [pg for stmt in out for pg in pg_statements(stmt)]
    return out
