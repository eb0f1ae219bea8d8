"""The API's response bodies as documented in /openapi.json, and the OpenAPI links between them.

The routes build their JSON by hand (``job_json``, ``file_json``, ``session_json``...); these
models only document it (``responses=`` on each route, never ``response_model``, which would
filter the output), so a field a handler adds or drops shows up as a schema mismatch under
``make fuzz`` instead of vanishing silently.

The links tell a stateful client (Schemathesis's stateful phase) where an id comes from: an
uploaded file's id feeds the file routes and a job's ``inputs``; a job's id feeds its status,
cancel, events and zip; a session's id (from the list, or from a job) feeds the session and its
turns; a run's id (from the list) feeds the run record. They point at operations with
``operationRef`` (a JSON pointer to the path), so they do not depend on generated operation ids.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from promptkiln.server.schemas import ErrorResponse


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FileObject(_Doc):
    id: str
    object: Literal["file"]
    name: str
    size: int
    media_type: str
    sha256: str
    role: str
    job_id: str | None
    created: float


class FileRef(_Doc):
    id: str
    name: str
    size: int
    media_type: str
    sha256: str


class JobError(_Open):
    """A failed or interrupted job's error: the CLI's message, hint and exit code (and more)."""

    code: str
    message: str
    hint: str | None = None
    exit_code: int | None = None


class Job(_Doc):
    id: str
    object: Literal["job"]
    kind: Literal["make", "run", "continue"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
    created: float
    session_id: str | None
    request: dict[str, Any]
    attempts: list[dict[str, Any]]
    files: list[FileRef]
    timings: dict[str, Any]
    result: dict[str, Any]
    error: JobError | None
    cancel_requested: bool


class SessionSummary(_Doc):
    id: str
    object: Literal["session"]
    title: str | None
    model: str | None
    created: float
    updated: float


class Turn(_Doc):
    number: int
    status: str
    prompt: str
    formats: list[str]
    problem: str | None
    run_ids: list[str]
    created: float
    finished: float | None


class SessionFile(_Doc):
    name: str
    version: int
    turn: int
    role: str
    size: int
    media_type: str | None
    sha256: str


class Session(SessionSummary):
    turns: list[Turn]
    files: list[SessionFile]
    jobs: list[str]


class Run(_Doc):
    id: str
    object: Literal["run"]
    kind: str
    created: float
    session_id: str | None
    job_id: str | None
    key_id: str | None
    seq: int
    hash: str
    prev_hash: str | None
    record: dict[str, Any] | None = None


class Verify(_Doc):
    ok: bool
    checked: int
    first_bad_run: str | None
    reason: str | None


class _List(_Doc):
    object: Literal["list"]
    has_more: bool


class FileList(_List):
    data: list[FileObject]


class JobList(_List):
    data: list[Job]


class SessionList(_List):
    data: list[SessionSummary]


class RunList(_List):
    data: list[Run]


def op(path: str, method: str) -> str:
    """An ``operationRef`` to ``method`` of ``path`` in this document (RFC 6901 escaping)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _links(param: str, value: str, targets: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return {
        name: {"operationRef": op(path, method), "parameters": {param: value}}
        for name, (path, method) in targets.items()
    }


FILE = "/v1/files/{file_id}"
JOB = "/v1/jobs/{job_id}"
SESSION = "/v1/sessions/{session_id}"


def file_links(value: str) -> dict[str, Any]:
    return _links(
        "file_id",
        value,
        {
            "GetFile": (FILE, "get"),
            "GetFileContent": (FILE + "/content", "get"),
            "GetFilePreview": (FILE + "/preview", "get"),
        },
    )


def job_links(value: str) -> dict[str, Any]:
    return _links(
        "job_id",
        value,
        {
            "GetJob": (JOB, "get"),
            "CancelJob": (JOB + "/cancel", "post"),
            "GetJobEvents": (JOB + "/events", "get"),
            "GetJobZip": (JOB + "/files.zip", "get"),
        },
    )


def session_links(value: str) -> dict[str, Any]:
    return _links(
        "session_id",
        value,
        {"GetSession": (SESSION, "get"), "ContinueSession": (SESSION + "/turns", "post")},
    )


def run_links(value: str) -> dict[str, Any]:
    return _links("run_id", value, {"GetRun": ("/v1/runs/{run_id}", "get")})


def documented(
    model: type[BaseModel], status: int = 200, links: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: its success body's model and links."""
    entry: dict[str, Any] = {"model": model}
    if links:
        entry["links"] = links
    return {status: entry}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


#: The bytes of a file, with the file's own media type.
ANY_BYTES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, served with its own media type",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    304: {"description": "Not modified (the If-None-Match ETag matched)"},
    410: _error("The file's content is no longer stored"),
}
ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A zip of the job's files",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    },
    410: _error("A file's content is no longer stored"),
}
EVENTS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: status, progress, tokens, attempt",
        "content": {
            "text/event-stream": {
                # one event: `id` (its sequence number, for Last-Event-ID), `event` (status,
                # progress, tokens, attempt, requeued, ...) and `data` (a JSON object)
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "event": {"type": "string"},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                    "required": ["data"],
                }
            }
        },
    },
}
PREVIEW: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A PNG of a PDF's first page, or an XLSX's first rows as JSON",
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        },
    },
    410: _error("The file's content is no longer stored"),
    415: _error("The file's type has no server-side preview"),
    422: _error("The file could not be rendered"),
}


def with_bearer_auth(app: Any) -> None:
    """Say in /openapi.json what every /v1 operation takes: ``Authorization: Bearer <key>``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema  # type: ignore[no-any-return]
        doc: dict[str, Any] = build()
        doc.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `promptkiln keys create --tenant NAME`",
        }
        for path, item in doc.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in item.values():
                    operation["security"] = [{"apiKey": []}]
        app.openapi_schema = doc
        return doc

    app.openapi = openapi
