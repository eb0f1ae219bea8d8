"""The MCP server mounted on ``promptkiln serve`` at ``/mcp/`` (streamable HTTP), with the same
API keys as ``/v1`` and scoped to the key's tenant.

The tools submit jobs to the server's own queue (``routes_jobs.validate_job``/``submit_job``, the
path ``POST /v1/jobs`` takes: quotas, fairness, run records with tenant and key) and wait for
them; files come back as MCP resources whose URIs are their ``/v1/files/{id}/content`` URLs,
embedded when small. Inputs are file ids from ``POST /v1/files``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    ContentBlock,
    TextContent,
)
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from promptkiln.server import files as filestore
from promptkiln.server import queue
from promptkiln.server import sessions as ses
from promptkiln.server.deps import ServerState
from promptkiln.server.errors import ApiError, not_found
from promptkiln.server.failures import error_text
from promptkiln.server.job_intake import submit_job, validate_job
from promptkiln.server.mcp_server import resource
from promptkiln.server.routes_jobs import job_json
from promptkiln.server.schemas import JobCreate
from promptkiln.server.tenants import Caller, authenticate

POLL_S = 0.2


def _bearer(headers: Any) -> str:
    scheme, _, key = str(headers.get("authorization", "")).partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


class KeyGate:
    """401 for a request to the MCP endpoint without a valid API key (before MCP sees it)."""

    def __init__(self, app: ASGIApp, server: ServerState) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = _bearer(Request(scope).headers)
            who = await to_thread.run_sync(self._auth, key) if key else None
            if who is None:
                from fastapi.responses import JSONResponse

                body = {
                    "error": {
                        "type": "authentication_error",
                        "code": "invalid_api_key",
                        "message": "no valid API key: send `Authorization: Bearer <key>`",
                        "hint": "create a key with `promptkiln keys create --tenant NAME`",
                    }
                }
                await JSONResponse(body, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _auth(self, key: str) -> Caller | None:
        return authenticate(self.server.store(), key)


class TenantTools:
    """The tools, run in a worker thread for the tenant of the request's key."""

    def __init__(self, server: ServerState, base_url: Callable[[Context[Any, Any, Any]], str]):
        self.server = server
        self.base_url = base_url

    def caller(self, ctx: Context[Any, Any, Any]) -> Caller:
        request = ctx.request_context.request
        who = authenticate(self.server.store(), _bearer(getattr(request, "headers", {})))
        if who is None:
            raise ApiError(401, "invalid_api_key", "no valid API key")
        return who

    def job(self, who: Caller, kind: str, body: JobCreate, session_id: str | None = None) -> Any:
        s = self.server
        request = validate_job(s, who, body, kind)
        if session_id is not None:
            request["session_id"] = session_id
        answer = submit_job(s, who, kind, request, None, session_id=session_id)
        job_id = json.loads(bytes(answer.body))["id"]
        while True:
            row = queue.get_job(s.store(), who.tenant.id, job_id)
            if row is not None and row["status"] in queue.TERMINAL:
                return job_json(s, row)
            time.sleep(POLL_S)

    def result(self, who: Caller, job: dict[str, Any], base: str) -> list[ContentBlock]:
        lines = [f"job {job['id']} {job['status']}, session {job['session_id']}"]
        lines += [f"- {f['name']} ({f['media_type']}, {f['size']:,} bytes)" for f in job["files"]]
        if job["error"]:  # the message, the failing line and the output tails, as text
            raise ToolError(error_text(job["error"]))
        blocks: list[ContentBlock] = [TextContent(type="text", text="\n".join(lines))]
        for f in job["files"]:
            blocks.append(self.file_block(who, f["id"], base))
        return blocks

    def file_block(self, who: Caller, file_id: str, base: str) -> ContentBlock:
        row = filestore.get_file(self.server.store(), who.tenant.id, file_id)
        if row is None:
            raise not_found("file", file_id)
        return resource(
            f"{base}/v1/files/{row['id']}/content",
            row["name"],
            row["media_type"],
            row["size"],
            lambda: filestore.file_bytes(self.server.home, row),
        )


def _base_url(ctx: Context[Any, Any, Any]) -> str:
    request = ctx.request_context.request
    return str(getattr(request, "base_url", "")).rstrip("/").removesuffix("/mcp")


def build() -> tuple[FastMCP, Callable[[FastAPI], None]]:
    """The FastMCP server and ``install(app)``, which mounts it at ``/mcp/`` behind the key
    gate. Pass ``lambda app: mcp.session_manager.run()`` to ``create_app(lifespans=...)``."""
    mcp = FastMCP(
        "promptkiln",
        stateless_http=True,
        streamable_http_path="/",
        # Bearer keys, not cookies, authorise: a rebinding page cannot present one.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    tools: list[TenantTools] = []

    def t() -> TenantTools:
        return tools[0]

    async def call(ctx: Context[Any, Any, Any], work: Callable[[Caller, str], Any]) -> Any:
        base = _base_url(ctx)

        def run() -> Any:
            return work(t().caller(ctx), base)

        return await to_thread.run_sync(run)

    @mcp.tool(name="make", description="Make files from a prompt; inputs are file ids.")
    async def make_tool(
        ctx: Context[Any, Any, Any],
        prompt: str,
        formats: list[str] | None = None,
        inputs: list[str] | None = None,
    ) -> list[ContentBlock]:
        body = JobCreate(prompt=prompt, formats=formats or [], inputs=inputs or [])
        return await call(ctx, lambda who, base: t().result(who, t().job(who, "make", body), base))  # type: ignore[no-any-return]

    @mcp.tool(name="run", description="Run your own Python script in the sandbox; get its files.")
    async def run_tool(
        ctx: Context[Any, Any, Any], script: str, inputs: list[str] | None = None
    ) -> list[ContentBlock]:
        body = JobCreate(script=script, inputs=inputs or [])
        return await call(ctx, lambda who, base: t().result(who, t().job(who, "run", body), base))  # type: ignore[no-any-return]

    @mcp.tool(name="continue", description="Continue a session: edit its latest files.")
    async def continue_tool(
        ctx: Context[Any, Any, Any],
        session: str,
        prompt: str,
        formats: list[str] | None = None,
        inputs: list[str] | None = None,
    ) -> list[ContentBlock]:
        body = JobCreate(prompt=prompt, formats=formats or [], inputs=inputs or [])

        def work(who: Caller, base: str) -> list[ContentBlock]:
            sid = ses.owned_session(t().server.store(), who.tenant.id, session)
            return t().result(who, t().job(who, "continue", body, session_id=sid), base)

        return await call(ctx, work)  # type: ignore[no-any-return]

    @mcp.tool(name="list_sessions", description="Your sessions, newest first.")
    async def sessions_tool(ctx: Context[Any, Any, Any]) -> list[dict[str, Any]]:
        def work(who: Caller, base: str) -> list[dict[str, Any]]:
            return ses.list_sessions(
                t().server.store(), who.tenant.id, limit=100, starting_after=None
            )

        return await call(ctx, work)  # type: ignore[no-any-return]

    @mcp.tool(name="fetch_file", description="Fetch one of your files by its id (file_…).")
    async def fetch_tool(ctx: Context[Any, Any, Any], file_id: str) -> list[ContentBlock]:
        return [await call(ctx, lambda who, base: t().file_block(who, file_id, base))]

    def install(app: FastAPI) -> None:
        server: ServerState = app.state.promptkiln
        tools.append(TenantTools(server, _base_url))
        app.mount("/mcp", KeyGate(mcp.streamable_http_app(), server))

    return mcp, install


def lifespan(mcp: FastMCP) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    return lambda app: mcp.session_manager.run()


__all__ = ["KeyGate", "build", "lifespan"]
