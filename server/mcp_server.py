"""``promptkiln mcp``: the MCP server (official ``mcp`` SDK, FastMCP) over stdio.

Tools call the same functions the CLI calls — :func:`promptkiln.making.sessions.run_turn` for
``make`` and ``continue``, :func:`promptkiln.making.pipeline.run_in_sandbox` (and the same run record)
for ``run`` — never a second pipeline. Produced files come back as MCP resources with their media
type: small files embedded as blobs, larger ones as resource links to the delivered file.

Files are delivered under ``<home>/mcp/<call id>/`` (never overwriting anything). A failed tool
call is a tool error whose text carries the script's stderr and stdout tail and the line it
failed on (:mod:`promptkiln.server.failures`): an MCP client has no terminal "above".
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from anyio import to_thread
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import (
    BlobResourceContents,
    ContentBlock,
    EmbeddedResource,
    ResourceLink,
    TextContent,
)
from pydantic import AnyUrl

from promptkiln.config import Settings
from promptkiln.errors import PromptkilnError, UsageError
from promptkiln.sandbox.base import Artifact
from promptkiln.server.failures import explain_attempt, explain_run, tool_error

EMBED_MAX_BYTES = 1024 * 1024  #: files up to this size are embedded; larger ones are links


def _out_dir(settings: Settings) -> Path:
    out = Path(settings.home) / "mcp" / uuid.uuid4().hex
    out.mkdir(parents=True, exist_ok=False)
    return out


def _inputs(paths: Sequence[str]) -> list[Path]:
    found = [Path(p).expanduser() for p in paths]
    for p in found:
        if not p.is_file():
            raise UsageError(f"input {p} is not a file", hint="give the path of an existing file")
    return found


def resource(
    uri: str, name: str, media_type: str, size: int, read: Callable[[], bytes]
) -> ContentBlock:
    """A file as an MCP resource: its bytes embedded when small, a link when large."""
    if size <= EMBED_MAX_BYTES:
        return EmbeddedResource(
            type="resource",
            resource=BlobResourceContents(
                uri=AnyUrl(uri),
                mimeType=media_type,
                blob=base64.b64encode(read()).decode("ascii"),
            ),
        )
    return ResourceLink(
        type="resource_link", uri=AnyUrl(uri), name=name, mimeType=media_type, size=size
    )


def file_content(artifact: Artifact) -> ContentBlock:
    """A delivered file as an MCP resource (a ``file://`` URI: stdio clients are local)."""
    path = Path(artifact.path)
    return resource(
        path.resolve().as_uri(), artifact.name, artifact.media_type, artifact.size, path.read_bytes
    )


def _turn_result(turn: Any) -> list[ContentBlock]:
    result = turn.result
    lines = [
        f"session {turn.session_id} turn {turn.turn}: {len(turn.delivered)} file(s) "
        f"in {result.attempt_count} attempt(s)",
        *(f"- {a.name} ({a.media_type}, {a.size:,} bytes)" for a in turn.delivered),
        *(f"- not delivered: {r.name}: {r.reason}" for r in result.rejections),
    ]
    blocks: list[ContentBlock] = [TextContent(type="text", text="\n".join(lines))]
    return blocks + [file_content(a) for a in turn.delivered]


def _turn(settings: Settings, prompt: str, **kw: Any) -> list[ContentBlock]:
    """One turn; a failure is a tool error that carries the last attempt's stderr and stdout
    tail and its failing line (an MCP client has no terminal to read them in)."""
    from promptkiln.making.sessions import run_turn

    attempts: list[Any] = []
    try:
        turn = run_turn(
            prompt,
            out=_out_dir(settings),
            settings=settings,
            on_record=lambda attempt, _: attempts.append(attempt),
            **kw,
        )
    except PromptkilnError as exc:
        why = explain_attempt(attempts[-1] if attempts else None)
        raise ToolError(tool_error(exc, why)) from exc
    return _turn_result(turn)


def make_files(
    settings: Settings, prompt: str, formats: Sequence[str], inputs: Sequence[str]
) -> list[ContentBlock]:
    """``promptkiln make``: a new session whose first turn makes the files."""
    return _turn(settings, prompt, formats=list(formats), inputs=_inputs(inputs))


def continue_session(
    settings: Settings, session: str, prompt: str, formats: Sequence[str], inputs: Sequence[str]
) -> list[ContentBlock]:
    """``promptkiln continue``: the model edits the session's latest files."""
    from promptkiln.records.store import Store

    with Store.open(settings.home) as store:
        sid = store.resolve_session(session)
    return _turn(settings, prompt, session=sid, formats=list(formats), inputs=_inputs(inputs))


def run_script(settings: Settings, script: str, inputs: Sequence[str]) -> list[ContentBlock]:
    """``promptkiln run``: the caller's own script in the sandbox, recorded like the CLI's."""
    from promptkiln.making.pipeline import raise_for_run, read_inputs, run_in_sandbox
    from promptkiln.records.records import record_sandbox_run

    code = script.encode("utf-8")
    files = read_inputs(_inputs(inputs))
    run = run_in_sandbox(code, files, _out_dir(settings), settings)
    try:
        raise_for_run(run, settings)
    except PromptkilnError as exc:  # what the CLI prints above its error line, here in it
        raise ToolError(tool_error(exc, explain_run(run, script))) from exc
    finally:
        record_sandbox_run(settings, "run", run, script=script, inputs=files)
    res = run.result
    text = [
        f"exit code {res.exit_code}, {len(run.artifacts)} file(s)",
        *(f"- {a.name} ({a.media_type}, {a.size:,} bytes)" for a in run.artifacts),
        "stdout:",
        res.stdout.data.decode("utf-8", "replace"),
    ]
    blocks: list[ContentBlock] = [TextContent(type="text", text="\n".join(text))]
    return blocks + [file_content(a) for a in run.artifacts]


def list_sessions(settings: Settings) -> list[dict[str, Any]]:
    """The sessions, newest first, as ``promptkiln sessions --json`` lists them."""
    from promptkiln.records.store import Store

    with Store.open(settings.home) as store:
        rows = store.sessions()
    return [
        {
            "id": r["id"],
            "title": r["title"],
            "model": r["model"],
            "backend": r["backend"],
            "files": r["nfiles"],
            "turns": r["nturns"],
            "updated": r["updated"],
        }
        for r in rows
    ]


def fetch_file(
    settings: Settings, session: str, name: str, version: int | None
) -> list[ContentBlock]:
    """``promptkiln sessions get``: one version of a session's file, as an embedded resource."""
    from promptkiln.records.sessions import file_version_bytes
    from promptkiln.sandbox.filetypes import detect

    data = file_version_bytes(settings, session, name, version)
    uri = f"promptkiln://sessions/{session}/files/{name}"
    return [
        EmbeddedResource(
            type="resource",
            resource=BlobResourceContents(
                uri=AnyUrl(uri),
                mimeType=detect(data, name),
                blob=base64.b64encode(data).decode("ascii"),
            ),
        )
    ]


def build(settings: Settings, **fastmcp: Any) -> FastMCP:
    """A FastMCP server whose tools run the pipeline with ``settings``."""
    mcp = FastMCP("promptkiln", **fastmcp)

    @mcp.tool(name="make", description="Make files from a prompt (e.g. a chart, a PDF report).")
    async def make_tool(
        prompt: str, formats: list[str] | None = None, inputs: list[str] | None = None
    ) -> list[ContentBlock]:
        return await to_thread.run_sync(make_files, settings, prompt, formats or [], inputs or [])

    @mcp.tool(name="run", description="Run your own Python script in the sandbox; get its files.")
    async def run_tool(script: str, inputs: list[str] | None = None) -> list[ContentBlock]:
        return await to_thread.run_sync(run_script, settings, script, inputs or [])

    @mcp.tool(name="continue", description="Continue a session: edit its latest files.")
    async def continue_tool(
        session: str,
        prompt: str,
        formats: list[str] | None = None,
        inputs: list[str] | None = None,
    ) -> list[ContentBlock]:
        return await to_thread.run_sync(
            continue_session, settings, session, prompt, formats or [], inputs or []
        )

    @mcp.tool(name="list_sessions", description="List sessions, newest first.")
    def sessions_tool() -> list[dict[str, Any]]:
        return list_sessions(settings)

    @mcp.tool(name="fetch_file", description="Fetch one version of a session's file.")
    def fetch_tool(session: str, name: str, version: int | None = None) -> list[ContentBlock]:
        return fetch_file(settings, session, name, version)

    return mcp


__all__ = ["EMBED_MAX_BYTES", "build", "file_content", "resource"]
