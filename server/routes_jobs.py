"""/v1/jobs: submit (JSON or multipart), read, list, cancel, live events (SSE), files as zip."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from promptkiln.config import parse_size
from promptkiln.errors import UsageError
from promptkiln.server import files as filestore
from promptkiln.server import queue
from promptkiln.server.db import loads
from promptkiln.server.deps import ServerState, caller, page, state
from promptkiln.server.errors import ApiError, not_found
from promptkiln.server.job_terms import job_settings
from promptkiln.server.responses import (
    EVENTS,
    ZIP,
    Job,
    JobList,
    documented,
    job_links,
    session_links,
)
from promptkiln.server.routes_files import attachment, store_upload
from promptkiln.server.schemas import ERRORS, JobCreate, JobCreated
from promptkiln.server.tenants import Caller

router = APIRouter(prefix="/v1", tags=["jobs"], responses=ERRORS)
SSE_POLL_S = 0.25
SSE_KEEPALIVE_S = 15.0
MAX_SEQ = 2**63 - 1  #: the largest event number a store can hold (BIGINT)

_JOB_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": JobCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "prompt": {"type": "string"},
                        "script": {"type": "string"},
                        "formats": {"type": "array", "items": {"type": "string"}},
                        "model": {"type": "string"},
                        "attempts": {"type": "integer"},
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }
}


def bad_request(message: str, hint: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, hint=hint, param=param)


def check_limits(s: ServerState, who: Caller, limits: dict[str, Any]) -> None:
    """A job may not ask for more than the tenant's ceiling (default: the server's limits)."""
    ceiling = who.tenant.caps.limits_ceiling or {}
    server = s.settings.limits.model_dump()
    for name, raw in limits.items():
        if name not in server:
            raise bad_request(
                f"unknown limit {name!r}",
                f"use one of: {', '.join(sorted(server))}",
                param=f"limits.{name}",
            )
        try:
            value = float(parse_size(raw)) if isinstance(raw, str) else float(raw)
        except ValueError as exc:
            raise bad_request(str(exc), "give a number", param=f"limits.{name}") from exc
        most = float(ceiling.get(name, server[name]))
        if value > most:
            s.metrics.inc("promptkiln_rejections_total", reason="limits_ceiling")
            raise ApiError(
                429,
                "limits_ceiling",
                f"limits.{name} = {raw} is above your ceiling of {most:g}",
                hint=f"ask for at most {most:g}",
                param=f"limits.{name}",
                headers={"Retry-After": "3600"},
            )


def validate_job(s: ServerState, who: Caller, body: JobCreate, kind: str) -> dict[str, Any]:
    """The job's request as stored, after the checks the CLI makes before it starts."""
    from promptkiln.llm.prompts import normalize_format

    if len(body.inputs) > s.options.max_inputs:
        raise bad_request(
            f"too many input files ({len(body.inputs)}; the limit is {s.options.max_inputs})",
            "send fewer files, or zip them into one",
            param="inputs",
        )
    if kind == "run":
        if not (body.script or "").strip():
            raise UsageError("the script is empty", hint="send the Python code as `script`")
    elif body.prompt is None or not body.prompt.strip():
        raise UsageError("the prompt is empty", hint='say what to make, e.g. "a bar chart of ..."')
    formats = [normalize_format(f) for f in body.formats]
    if body.model and body.model not in {s.settings.model, *s.options.allowed_models}:
        raise ApiError(
            400,
            "model_not_allowed",
            f"the model {body.model!r} is not offered by this server",
            hint="leave `model` out for the default"
            + (
                f", or use one of: {', '.join(s.options.allowed_models)}"
                if s.options.allowed_models
                else ""
            ),
            param="model",
        )
    if body.engine and body.engine not in {s.settings.engine, *s.options.allowed_engines}:
        raise ApiError(
            400,
            "engine_not_allowed",
            f"the engine {body.engine!r} is not offered by this server",
            hint="leave `engine` out for the default"
            + (
                f", or use one of: {', '.join(s.options.allowed_engines)}"
                if s.options.allowed_engines
                else " (the operator allows others with `promptkiln serve --allow-engine`)"
            ),
            param="engine",
        )
    check_limits(s, who, body.limits or {})
    request = body.model_dump(exclude_none=True)
    request["formats"] = formats
    job_settings(s.settings, request)  # a bad value fails here, as a flag would
    filestore.get_files(s.store(), who.tenant.id, body.inputs)
    if kind == "make" and not formats:
        from promptkiln.making.sessions import guess_formats

        if not guess_formats(body.prompt or "", []):
            raise UsageError(
                "no output format requested", hint='pass at least one, e.g. "formats": ["pdf"]'
            )
    return request


def submit_job(
    s: ServerState,
    who: Caller,
    kind: str,
    request: dict[str, Any],
    idempotency_key: str | None,
    session_id: str | None = None,
) -> JSONResponse:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise bad_request("the Idempotency-Key must be 1-255 characters", "use a UUID")
    try:
        done = queue.submit(
            s.store(),
            who,
            kind,
            request,
            idempotency_key=idempotency_key,
            max_queue=s.options.max_queue,
            session_id=session_id,
            admit=s.pool.capacity.admit,
        )
    except ApiError as exc:
        s.metrics.inc("promptkiln_rejections_total", reason=exc.code)
        raise
    if done.created:
        s.metrics.inc("promptkiln_jobs_submitted_total", kind=kind)
        s.pool.wake()
    job = done.job
    headers = {"Location": f"/v1/jobs/{job['id']}"}
    if not done.created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(
        {"id": job["id"], "object": "job", "status": job["status"]}, 202, headers=headers
    )


async def parse_job(request: Request, s: ServerState, who: Caller) -> JobCreate:
    """The body as JSON, or as a multipart form whose `file` parts are uploaded first."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        fields: dict[str, Any] = {}
        async with request.form() as form:
            for key in ("prompt", "script", "model", "attempts"):
                if isinstance(form.get(key), str):
                    fields[key] = form.get(key)
            fields["formats"] = [f for f in form.getlist("formats") if isinstance(f, str)]
            fields["inputs"] = [f for f in form.getlist("inputs") if isinstance(f, str)]
            for upload in form.getlist("file"):
                if isinstance(upload, UploadFile):
                    fields["inputs"].append((await store_upload(upload, who, s))["id"])
        raw: Any = fields
    else:
        try:
            raw = json.loads(await request.body())
        except ValueError as exc:
            raise bad_request(
                f"the body is not valid JSON: {exc}",
                'send a JSON object such as {"prompt": "...", "formats": ["png"]}',
            ) from exc
    try:
        return JobCreate.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise bad_request(
            f"{where}: {first['msg']}", "see /docs for the job fields", where
        ) from exc


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobCreated,
    summary="Submit a job",
    openapi_extra=_JOB_BODY,
    responses={202: {"links": job_links("$response.body#/id")}},
)
async def create_job(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    s = state(request)
    body = await parse_job(request, s, who)
    if (body.prompt is None) == (body.script is None):
        raise bad_request(
            "send either `prompt` (make files) or `script` (run your script), not both or neither",
            'e.g. {"prompt": "a bar chart of ...", "formats": ["png"]}',
        )
    kind = "run" if body.script is not None else "make"

    def submit() -> JSONResponse:
        return submit_job(s, who, kind, validate_job(s, who, body, kind), idempotency_key)

    return await run_in_threadpool(submit)


def owned_job(s: ServerState, who: Caller, job_id: str) -> Any:
    row = queue.get_job(s.store(), who.tenant.id, job_id)
    if row is None:
        raise not_found("job", job_id)
    return row


def job_json(s: ServerState, row: Any) -> dict[str, Any]:
    store = s.store()
    request = loads(row["request"]) or {}
    result = loads(row["result"]) or {}
    attempts = [
        loads(e["data"])
        for e in queue.events_after(store, row["id"], 0, limit=10_000)
        if e["type"] == "attempt"
    ]
    timings: dict[str, Any] = {
        "created": row["created"],
        "started": row["started"],
        "finished": row["finished"],
    }
    if row["started"]:
        timings["queued_s"] = round(row["started"] - row["created"], 3)
    if row["started"] and row["finished"]:
        timings["total_s"] = round(row["finished"] - row["started"], 3)
    timings.update(result.pop("timings", {}))
    return {
        "id": row["id"],
        "object": "job",
        "kind": row["kind"],
        "status": row["status"],
        "created": row["created"],
        "session_id": f"ses_{row['session_id']}" if row["session_id"] else None,
        "request": {k: v for k, v in request.items() if k not in ("script", "session_id")},
        "attempts": attempts,
        "files": [
            {k: f[k] for k in ("id", "name", "size", "media_type", "sha256")}
            for f in filestore.job_files(store, row["id"])
        ],
        "timings": timings,
        "result": result,
        "error": loads(row["error"]),
        "cancel_requested": bool(row["cancel_requested"]),
    }


@router.get(
    "/jobs",
    summary="List your jobs",
    responses=documented(JobList, links=job_links("$response.body#/data/0/id")),
)
def list_jobs(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> dict[str, Any]:
    s = state(request)
    rows = queue.list_jobs(s.store(), who.tenant.id, limit=limit, starting_after=starting_after)
    return page(rows, limit, lambda r: job_json(s, r))


@router.get(
    "/jobs/{job_id}",
    summary="A job: status, attempts, files, timings, error",
    responses=documented(Job, links=session_links("$response.body#/session_id")),
)
def get_job(
    request: Request, job_id: str, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    s = state(request)
    return job_json(s, owned_job(s, who, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    summary="Cancel a job (its sandbox stops at once)",
    responses=documented(Job),
)
def cancel_job(
    request: Request, job_id: str, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    s = state(request)
    owned_job(s, who, job_id)
    if queue.request_cancel(s.store(), who.tenant.id, job_id) == "running":
        s.pool.cancel(job_id)
    return job_json(s, owned_job(s, who, job_id))


@router.get("/jobs/{job_id}/files.zip", summary="All files of a job, as one zip", responses=ZIP)
def job_zip(request: Request, job_id: str, who: Annotated[Caller, Depends(caller)]) -> Response:
    s = state(request)
    owned_job(s, who, job_id)
    data = filestore.zip_of(s.home, filestore.job_files(s.store(), job_id))
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": attachment(f"{job_id}.zip")},
    )


@router.get(
    "/jobs/{job_id}/events",
    summary="Live progress as Server-Sent Events (resumable with Last-Event-ID)",
    response_class=StreamingResponse,
    responses=EVENTS,
)
async def job_events(
    request: Request,
    job_id: str,
    who: Annotated[Caller, Depends(caller)],
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
) -> StreamingResponse:
    s = state(request)
    await run_in_threadpool(owned_job, s, who, job_id)
    try:
        start = int(last_event_id) if last_event_id else (after or 0)
    except ValueError:
        start = after or 0
    if not 0 <= start <= MAX_SEQ:  # a database integer; past it the stream's query would fail
        start = after or 0
    return StreamingResponse(
        _sse(request, s, job_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _events(s: ServerState, job_id: str, seq: int) -> list[Any]:
    return queue.events_after(s.store(), job_id, seq)


async def _sse(request: Request, s: ServerState, job_id: str, seq: int) -> AsyncIterator[str]:
    idle = 0.0
    yield "retry: 1000\n\n"
    while True:
        rows = await run_in_threadpool(_events, s, job_id, seq)
        finished = False
        for row in rows:
            seq = row["seq"]
            yield f"id: {seq}\nevent: {row['type']}\ndata: {row['data']}\n\n"
            if row["type"] == "status" and json.loads(row["data"]).get("status") in queue.TERMINAL:
                finished = True
        if finished:
            return
        if rows:
            idle = 0.0
            continue
        if await request.is_disconnected():
            return
        await asyncio.sleep(SSE_POLL_S)
        idle += SSE_POLL_S
        if idle >= SSE_KEEPALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"
