"""The web page at ``/``: plain HTML, CSS and JS served by the server itself (no CDN, no build
step, works air-gapped), under a strict Content-Security-Policy; and
``GET /v1/files/{id}/preview``: the first page of a PDF as a PNG, the first rows of an XLSX as
JSON, rendered server-side for the page's previews.

``install(app)`` adds both; ``promptkiln serve`` passes it to ``create_app(extend=...)``.
"""

from __future__ import annotations

import io
import json
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from promptkiln.server import files as filestore
from promptkiln.server.deps import caller, state
from promptkiln.server.errors import ApiError, not_found
from promptkiln.server.responses import PREVIEW
from promptkiln.server.schemas import ERRORS
from promptkiln.server.tenants import Caller

#: The page runs only its own script and style, talks only to this server, and shows images
#: only from this server or the blob: URLs it made from downloaded files.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
PREVIEW_ROWS = 20
PREVIEW_COLS = 30
PREVIEW_WIDTH_PX = 800

router = APIRouter()


def _asset(name: str) -> bytes:
    return resources.files("promptkiln.server").joinpath("static", name).read_bytes()


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@router.get("/", include_in_schema=False)
def page() -> Response:
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8", headers=_headers())


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return asset("favicon.svg")


@router.get("/static/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    if name not in STATIC:
        raise ApiError(404, "not_found", f"no asset {name!r}", hint="see / for the web page")
    return Response(_asset(name), media_type=STATIC[name], headers=_headers())


def pdf_first_page_png(data: bytes, width: int = PREVIEW_WIDTH_PX) -> bytes:
    """The first page of a PDF rendered as a PNG ``width`` pixels wide (pypdfium2)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        scale = width / max(page.get_width(), 1.0)
        image = page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()
    finally:
        pdf.close()


def xlsx_first_rows(data: bytes) -> list[list[str]]:
    """The first rows of the first sheet of an XLSX, as text (read-only, no formulas run)."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        return [
            ["" if v is None else str(v) for v in row[:PREVIEW_COLS]]
            for row in sheet.iter_rows(max_row=PREVIEW_ROWS + 1, values_only=True)
        ]
    finally:
        book.close()


@router.get(
    "/v1/files/{file_id}/preview",
    tags=["files"],
    summary="A preview of a PDF or XLSX",
    responses={**ERRORS, **PREVIEW},
)
def preview(request: Request, file_id: str, who: Annotated[Caller, Depends(caller)]) -> Response:
    s = state(request)
    row = filestore.get_file(s.store(), who.tenant.id, file_id)
    if row is None:
        raise not_found("file", file_id)
    media = str(row["media_type"])
    if media != "application/pdf" and "spreadsheetml" not in media:
        raise ApiError(
            415,
            "no_preview",
            f"no server-side preview for {media}",
            hint="PDF and XLSX have one; download the file instead",
        )
    data = filestore.file_bytes(s.home, row)
    try:
        if media == "application/pdf":
            return Response(
                pdf_first_page_png(data),
                media_type="image/png",
                headers={"X-Content-Type-Options": "nosniff"},
            )
        return Response(json.dumps({"rows": xlsx_first_rows(data)}), media_type="application/json")
    except Exception as exc:  # a damaged file: say so, never a 500
        raise ApiError(
            422,
            "preview_failed",
            f"could not render a preview: {type(exc).__name__}",
            hint="download the file instead",
        ) from exc


def install(app: FastAPI) -> None:
    """Add the web page and the preview route to ``app``."""
    app.include_router(router)


__all__ = ["CSP", "install", "pdf_first_page_png", "xlsx_first_rows"]
