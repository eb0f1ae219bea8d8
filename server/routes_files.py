"""/v1/files: upload inputs, read metadata, download content; a job's files as one zip."""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile as StarletteUpload

from promptkiln.server import files as filestore
from promptkiln.server.deps import ServerState, caller, page, state
from promptkiln.server.errors import ApiError, not_found
from promptkiln.server.responses import ANY_BYTES, FileList, FileObject, documented, file_links
from promptkiln.server.schemas import ERRORS, FileCreated
from promptkiln.server.tenants import Caller

router = APIRouter(prefix="/v1", tags=["files"], responses=ERRORS)
CHUNK = 1 << 20


async def read_upload(upload: StarletteUpload, limit: int, s: ServerState) -> bytes:
    """The upload's bytes, or 413 naming the limit as soon as it is passed."""
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > limit:
            s.metrics.inc("promptkiln_rejections_total", reason="upload_too_large")
            raise ApiError(
                413,
                "upload_too_large",
                f"the file {upload.filename or ''!r} is larger than the {limit:,}-byte upload limit",
                hint="send a smaller file, or ask the operator to raise --max-upload",
                param="file",
            )
    return bytes(data)


async def store_upload(upload: StarletteUpload, who: Caller, s: ServerState) -> dict[str, Any]:
    name = filestore.safe_upload_name(upload.filename or "upload")
    data = await read_upload(upload, s.options.max_upload_bytes, s)

    def save() -> dict[str, Any]:
        store = s.store()
        filestore.check_upload_quota(
            store, who.tenant.id, len(data), who.tenant.caps.upload_bytes_per_hour
        )
        row = filestore.add_file(store, s.home, who.tenant.id, name, data, role="upload")
        return filestore.file_json(row)

    return await run_in_threadpool(save)


@router.post(
    "/files",
    status_code=201,
    response_model=FileCreated,
    summary="Upload a file",
    responses={201: {"links": file_links("$response.body#/id")}},
)
async def upload_file(
    request: Request,
    file: UploadFile,
    who: Annotated[Caller, Depends(caller)],
) -> dict[str, Any]:
    return await store_upload(file, who, state(request))


@router.get(
    "/files",
    summary="List your files",
    responses=documented(FileList, links=file_links("$response.body#/data/0/id")),
)
def list_files(
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> dict[str, Any]:
    rows = filestore.list_files(
        state(request).store(), who.tenant.id, limit=limit, starting_after=starting_after
    )
    return page(rows, limit, filestore.file_json)


def _owned(request: Request, who: Caller, file_id: str) -> Any:
    row = filestore.get_file(state(request).store(), who.tenant.id, file_id)
    if row is None:
        raise not_found("file", file_id)
    return row


@router.get("/files/{file_id}", summary="A file's metadata", responses=documented(FileObject))
def get_file(
    request: Request, file_id: str, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    return filestore.file_json(_owned(request, who, file_id))


def attachment(name: str) -> str:
    """A Content-Disposition that no name can break: ASCII fallback plus RFC 5987 UTF-8."""
    leaf = name.rsplit("/", 1)[-1]
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in leaf)
    quoted = urllib.parse.quote(leaf, safe="")
    return f"attachment; filename=\"{ascii_name or 'file'}\"; filename*=UTF-8''{quoted}"


@router.get("/files/{file_id}/content", summary="A file's bytes", responses=ANY_BYTES)
def get_content(
    request: Request, file_id: str, who: Annotated[Caller, Depends(caller)]
) -> Response:
    row = _owned(request, who, file_id)
    etag = f'"{row["sha256"]}"'
    headers = {"ETag": etag, "Content-Disposition": attachment(row["name"])}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    data = filestore.file_bytes(state(request).home, row)
    return Response(
        data,
        media_type=row["media_type"],
        headers={
            **headers,
            "X-Content-Type-Options": "nosniff",
            # Whatever a file holds (SVG, HTML), it never runs as a page of this server.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
