"""Files: a tenant's uploads and the files its jobs produced, kept as content-addressed blobs.

Upload names are sanitised by the same rules as a sandbox's outputs (no paths, no control or
bidi characters); a name that cannot be made safe is refused with the reason.
"""

from __future__ import annotations

import io
import sqlite3
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptkiln.records.store import Store
from promptkiln.sandbox.filetypes import detect
from promptkiln.sandbox.names import UnsafeName, sanitize_name
from promptkiln.server.db import blobs_for, new_id, page_rows
from promptkiln.server.errors import ApiError

HOUR = 3600.0


def safe_upload_name(raw: str) -> str:
    """The leaf of an uploaded file's name, sanitised like an output's; 400 if it cannot be."""
    leaf = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    try:
        return sanitize_name(leaf)
    except UnsafeName as exc:
        raise ApiError(
            400,
            "bad_file_name",
            f"the file name {exc.raw[:80]!r} cannot be used: {exc.reason}",
            hint="rename the file to a plain name such as data.csv",
            param="file",
        ) from exc


def check_upload_quota(store: Store, tenant_id: str, size: int, per_hour: int) -> None:
    since = time.time() - HOUR
    used = store.conn.execute(
        "SELECT coalesce(sum(size), 0) FROM server_files WHERE tenant_id = ? AND role = 'upload' "
        "AND created > ?",
        (tenant_id, since),
    ).fetchone()[0]
    if used + size > per_hour:
        raise ApiError(
            429,
            "upload_quota",
            f"uploading {size:,} more bytes would pass your cap of {per_hour:,} bytes per hour "
            f"({used:,} used)",
            hint="retry later, or ask the operator to raise the cap",
            headers={"Retry-After": "60"},
        )


def add_file(
    store: Store,
    home: Path,
    tenant_id: str,
    name: str,
    data: bytes,
    *,
    role: str,
    job_id: str | None = None,
    media_type: str | None = None,
) -> sqlite3.Row:
    sha = blobs_for(home).put(data)
    file_id = new_id("file")
    with store.write() as c:
        c.execute(
            "INSERT INTO server_files(id, tenant_id, job_id, role, name, size, media_type, "
            "sha256, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                file_id,
                tenant_id,
                job_id,
                role,
                name,
                len(data),
                media_type or detect(data, name),
                sha,
                time.time(),
            ),
        )
        row: sqlite3.Row = c.execute(
            "SELECT * FROM server_files WHERE id = ?", (file_id,)
        ).fetchone()
    return row


def get_file(store: Store, tenant_id: str, file_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = store.conn.execute(
        "SELECT * FROM server_files WHERE id = ? AND tenant_id = ?", (file_id, tenant_id)
    ).fetchone()
    return row


def get_files(store: Store, tenant_id: str, file_ids: Sequence[str]) -> list[sqlite3.Row]:
    """The tenant's files by id, in order; 404 (as for any unknown id) for the first missing."""
    from promptkiln.server.errors import not_found

    rows = []
    for fid in file_ids:
        row = get_file(store, tenant_id, fid)
        if row is None:
            raise not_found("file", fid)
        rows.append(row)
    return rows


def drop_job_files(store: Store, job_id: str) -> None:
    """Forget a job's files (a cancelled or interrupted job delivers nothing)."""
    with store.write() as c:
        c.execute("DELETE FROM server_files WHERE job_id = ?", (job_id,))


def job_files(store: Store, job_id: str) -> list[sqlite3.Row]:
    return store.conn.execute(
        "SELECT * FROM server_files WHERE job_id = ? AND role = 'output' ORDER BY name, id",
        (job_id,),
    ).fetchall()


def list_files(
    store: Store, tenant_id: str, *, limit: int, starting_after: str | None
) -> list[sqlite3.Row]:
    return page_rows(
        store,
        "SELECT * FROM server_files WHERE tenant_id = ?",
        [tenant_id],
        key="created, id",
        after=starting_after,
        after_key="SELECT created, id FROM server_files WHERE id = ? AND tenant_id = ?",
        after_args=[starting_after, tenant_id],
        limit=limit,
    )


def file_bytes(home: Path, row: sqlite3.Row) -> bytes:
    data = blobs_for(home).get(row["sha256"])
    if data is None:
        raise ApiError(
            410,
            "file_gone",
            f"the content of {row['id']} is no longer stored",
            hint="run the job again",
        )
    return data


def zip_of(home: Path, rows: Sequence[sqlite3.Row]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for row in rows:
            zf.writestr(row["name"], file_bytes(home, row))
    return buf.getvalue()


def file_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "file",
        "name": row["name"],
        "size": row["size"],
        "media_type": row["media_type"],
        "sha256": row["sha256"],
        "role": row["role"],
        "job_id": row["job_id"],
        "created": row["created"],
    }
