"""The ASGI app: ``create_app(settings, options)`` returns a FastAPI app.

Add routers, mounts and static files to the app it returns, or pass ``extend`` (called with
the app before start-up); the web page and the MCP server mount here::

    app = create_app(settings, options, extend=lambda app: app.mount("/mcp", mcp_app),
                     lifespans=[lambda app: mcp.session_manager.run()])

Authorise a mounted app's requests with :func:`promptkiln.server.deps.caller` (the same API
keys) or :func:`promptkiln.server.tenants.authenticate` on the bearer key.

``app.state.promptkiln`` is the :class:`~promptkiln.server.deps.ServerState` (settings, options,
metrics, worker pool). Errors become one JSON object in one place (:func:`_install_errors`);
a 500 carries only a request id, the log has the traceback.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from promptkiln.config import Settings
from promptkiln.errors import PromptkilnError
from promptkiln.records.dialect import redact
from promptkiln.server import db
from promptkiln.server import errors as api_errors
from promptkiln.server.deps import ServerOptions, ServerState
from promptkiln.server.errors import ApiError
from promptkiln.server.metrics import Metrics
from promptkiln.server.responses import with_bearer_auth
from promptkiln.server.worker import WorkerPool
from promptkiln.version import __version__

log = logging.getLogger("promptkiln.server")
access_log = logging.getLogger("promptkiln.server.access")


def create_app(
    settings: Settings,
    options: ServerOptions | None = None,
    *,
    extend: Callable[[FastAPI], None] | None = None,
    lifespans: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = (),
) -> FastAPI:
    """The API over ``settings`` (home, model, backend, limits) with ``options``.

    ``extend(app)`` adds routers, mounts and static files; ``lifespans`` are entered after the
    workers start and left before they drain (a mounted app's own start-up, e.g. an MCP
    session manager, which a mount alone does not run)."""
    from promptkiln.server import routes_files, routes_jobs, routes_ops, routes_records

    options = options or ServerOptions()
    db.configure(settings.home, settings.store_url)
    metrics = Metrics()
    pool = WorkerPool(settings.home, settings, metrics, options.workers)
    server = ServerState(settings, options, metrics, pool)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(pool.recover)
        if options.start_workers:
            pool.start()
        where = redact(settings.store_url) if settings.store_url else settings.home
        log.info("promptkiln server ready: %d workers, store %s", pool.size, where)
        async with AsyncExitStack() as stack:
            for enter in lifespans:
                await stack.enter_async_context(enter(app))
            yield
        log.info("draining: waiting for %d running job(s)", pool.busy)
        await run_in_threadpool(pool.drain, options.drain_timeout_s)

    app = FastAPI(
        title="promptkiln",
        version=__version__,
        description="Prompts in, real files out: jobs, files, sessions and run records.",
        lifespan=lifespan,
        docs_url=None,  # the default pages load from a CDN; /docs is served from here
        redoc_url=None,
    )
    app.state.promptkiln = server
    _install_errors(app)
    with_bearer_auth(app)
    for module in (routes_ops, routes_files, routes_jobs, routes_records):
        app.include_router(module.router)
    if extend is not None:
        extend(app)
    app.add_middleware(BodyLimitMiddleware, options=options)
    app.add_middleware(RequestIdMiddleware)
    return app


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or request.headers.get("x-request-id", ""))


def _install_errors(app: FastAPI) -> None:
    def respond(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(
            api_errors.body(err, _request_id(request)), status_code=err.status, headers=err.headers
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(PromptkilnError)
    async def promptkiln_error(request: Request, exc: PromptkilnError) -> JSONResponse:
        return respond(request, api_errors.from_promptkiln(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        message = first["msg"]
        if first.get("type") == "json_invalid":
            message = "the body is not valid JSON"
        return respond(
            request,
            ApiError(400, "invalid_request", f"{where}: {message}", hint="see /docs", param=where),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        hint = "see /docs for the API's paths" if exc.status_code in (404, 405) else None
        # Starlette's 405 names the allowed methods in `Allow` (RFC 9110 requires it): keep it.
        headers = dict(exc.headers or {})
        err = ApiError(exc.status_code, code, str(exc.detail), hint=hint, headers=headers)
        return respond(request, err)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        rid = _request_id(request)
        if db.is_store_outage(exc):  # PostgreSQL restarting: the next connection may work
            log.warning("request %s: the store is unreachable: %s", rid, exc)
            return respond(
                request,
                ApiError(
                    503,
                    "store_unavailable",
                    "the server's database is unreachable",
                    hint="retry after the Retry-After seconds",
                    headers={"Retry-After": "2"},
                ),
            )
        log.error("request %s failed", rid, exc_info=exc)
        err = ApiError(
            500,
            "internal_error",
            "internal error",
            hint=f"the server log has the details under request id {rid}",
        )
        return respond(request, err)


class RequestIdMiddleware:
    """Give every request an id (``X-Request-ID``, echoed back) and write one JSON access-log
    line per request: id, method, path, status, duration, tenant."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if given and len(given) <= 100 and given.isprintable() else ""
        rid = rid or f"req_{secrets.token_hex(8)}"
        scope.setdefault("state", {})["request_id"] = rid
        started = time.monotonic()
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            access_log.info(
                json.dumps(
                    {
                        "request_id": rid,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status[0],
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                        "tenant": state.get("tenant"),
                        "client": (scope.get("client") or ("", 0))[0],
                    }
                )
            )


class BodyLimitMiddleware:
    """Refuse a body that says it is too big (413, naming the limit) before anything reads it:
    an upload may be at most ``max_upload_bytes``, a job with inline files that many per input."""

    SLACK = 64 * 1024  # multipart headers and the form's other fields

    def __init__(self, app: ASGIApp, options: ServerOptions) -> None:
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            limit = self.options.max_upload_bytes
            if scope.get("path") != "/v1/files":
                limit *= self.options.max_inputs
            headers = dict(scope.get("headers") or [])
            try:
                length = int(headers.get(b"content-length", b"0"))
            except ValueError:
                length = 0
            if length > limit + self.SLACK:
                err = ApiError(
                    413,
                    "upload_too_large",
                    f"the request body ({length:,} bytes) is larger than the {limit:,}-byte "
                    "upload limit",
                    hint="send a smaller file, or ask the operator to raise --max-upload",
                )
                rid = str((scope.get("state") or {}).get("request_id", ""))
                response = JSONResponse(api_errors.body(err, rid), status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
