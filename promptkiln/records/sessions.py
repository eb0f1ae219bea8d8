"""Reading a session's stored files: one version of one file, by name (``promptkiln sessions
get``, the MCP server's file resource)."""

from __future__ import annotations

from promptkiln.config import Settings
from promptkiln.errors import UsageError
from promptkiln.records.store import open_store


def file_version_bytes(
    settings: Settings, session: str, name: str, version: int | None = None
) -> bytes:
    """The bytes of one version of a session's file (the latest when ``version`` is None)."""
    with open_store(settings) as store:
        sid = store.resolve_session(session)
        rows = [r for r in store.files(sid) if r["name"] == name]
        if version is not None:
            rows = [r for r in rows if r["version"] == version]
        if not rows:
            raise UsageError(
                f"session {sid[:12]} has no {name}" + (f" v{version}" if version else "")
            )
        data = store.file_bytes(rows[-1])
        if data is None:
            raise UsageError(f"the bytes of {name} are no longer stored")
        return data
