"""A job's way in: the request body parsed (JSON or multipart) and checked against the caller's
tenant (its files, the server's limits, models and engines), then queued. The routes that
submit jobs (``/v1/jobs``, a session's turns, the MCP tools) share it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from promptkiln.config import parse_size
from promptkiln.errors import UsageError
from promptkiln.server import files as filestore
from promptkiln.server import queue
from promptkiln.server.deps import ServerState
from promptkiln.server.errors import ApiError
from promptkiln.server.job_terms import job_settings
from promptkiln.server.routes_files import store_upload
from promptkiln.server.schemas import JobCreate
from promptkiln.server.tenants import Caller


def bad_request(message: str, hint: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, hint=hint, param=param)


def _not_offered(field: str, value: str, allowed: Sequence[str], otherwise: str) -> ApiError:
    """A 400 for a model or engine this server does not offer, naming those it does."""
    others = f", or use one of: {', '.join(allowed)}" if allowed else otherwise
    return ApiError(
        400,
        f"{field}_not_allowed",
        f"the {field} {value!r} is not offered by this server",
        hint=f"leave `{field}` out for the default{others}",
        param=field,
    )


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
        raise _not_offered("model", body.model, s.options.allowed_models, "")
    if body.engine and body.engine not in {s.settings.engine, *s.options.allowed_engines}:
        raise _not_offered(
            "engine",
            body.engine,
            s.options.allowed_engines,
            " (the operator allows others with `promptkiln serve --allow-engine`)",
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
