"""/v1/sessions (list, show, continue with a turn) and /v1/runs (audit records, verify)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from promptkiln.server import sessions as ses
from promptkiln.server.deps import caller, page, state
from promptkiln.server.job_intake import submit_job, validate_job
from promptkiln.server.responses import (
    Run,
    RunList,
    Session,
    SessionList,
    Verify,
    documented,
    job_links,
    run_links,
    session_links,
)
from promptkiln.server.schemas import ERRORS, JobCreate, JobCreated, TurnCreate
from promptkiln.server.tenants import Caller

router = APIRouter(prefix="/v1", responses=ERRORS)


@router.get(
    "/sessions",
    tags=["sessions"],
    summary="List your sessions",
    responses=documented(SessionList, links=session_links("$response.body#/data/0/id")),
)
def list_sessions(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> dict[str, Any]:
    rows = ses.list_sessions(
        state(request).store(), who.tenant.id, limit=limit, starting_after=starting_after
    )
    return page(rows, limit)


@router.get(
    "/sessions/{session_id}",
    tags=["sessions"],
    summary="A session: turns and files",
    responses=documented(Session, links=session_links("$request.path.session_id")),
)
def get_session(
    request: Request, session_id: str, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    store = state(request).store()
    sid = ses.owned_session(store, who.tenant.id, session_id)
    return ses.session_json(store, store.session(sid))


@router.post(
    "/sessions/{session_id}/turns",
    tags=["sessions"],
    status_code=202,
    response_model=JobCreated,
    summary="Continue a session (like `promptkiln continue`): queues a job",
    responses={202: {"links": job_links("$response.body#/id")}},
)
async def create_turn(
    request: Request,
    session_id: str,
    body: TurnCreate,
    who: Annotated[Caller, Depends(caller)],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    s = state(request)

    def submit() -> JSONResponse:
        sid = ses.owned_session(s.store(), who.tenant.id, session_id)
        job = JobCreate(
            prompt=body.prompt,
            formats=body.formats,
            inputs=body.inputs,
            attempts=body.attempts,
            limits=body.limits,
        )
        req = validate_job(s, who, job, "continue")
        req["session_id"] = sid
        return submit_job(s, who, "continue", req, idempotency_key, session_id=sid)

    return await run_in_threadpool(submit)


@router.get(
    "/runs",
    tags=["runs"],
    summary="Your run records (the audit trail)",
    responses=documented(RunList, links=run_links("$response.body#/data/0/id")),
)
def list_runs(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> dict[str, Any]:
    rows = ses.list_runs(
        state(request).store(), who.tenant.id, limit=limit, starting_after=starting_after
    )
    return page(rows, limit)


@router.get(
    "/runs/verify",
    tags=["runs"],
    summary="Verify the hash chain of run records",
    responses=documented(Verify),
)
def verify_runs(request: Request, who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    return ses.verify_runs(state(request).store(), who.tenant.id)


@router.get("/runs/{run_id}", tags=["runs"], summary="One run record", responses=documented(Run))
def get_run(
    request: Request, run_id: str, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    return ses.get_run(state(request).store(), who.tenant.id, run_id)
