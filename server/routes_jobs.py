"""/v1/jobs: submit (JSON or multipart), read, list, cancel, live events (SSE), files as zip."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from promptkiln.server import files as filestore
from promptkiln.server import queue
from promptkiln.server.db import loads
from promptkiln.server.deps import ServerState, caller, page, state
from promptkiln.server.errors import not_found
from promptkiln.server.job_intake import bad_request, parse_job, submit_job, validate_job
from promptkiln.server.responses import (
    EVENTS,
    ZIP,
    Job,
    JobList,
    documented,
    job_links,
    session_links,
)
from promptkiln.server.routes_files import attachment
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
