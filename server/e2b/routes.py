"""``GET /v1/e2b/sandboxes``: the caller's tenant's live E2B sandboxes (the web page lists them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from promptkiln.server.deps import caller
from promptkiln.server.tenants import Caller

router = APIRouter()


@router.get("/v1/e2b/sandboxes")
def list_sandboxes(request: Request, who: Annotated[Caller, Depends(caller)]) -> dict[str, Any]:
    fleet = getattr(request.app.state, "e2b_fleet", None)
    records = fleet.live(who.tenant.id) if fleet is not None else []
    return {
        "data": [
            {
                "id": r.sandbox_id,
                "template": r.template,
                "started_at": r.started_at,
                "end_at": r.end_at,
                "metadata": r.metadata,
            }
            for r in sorted(records, key=lambda r: r.started_at, reverse=True)
        ],
        "has_more": False,
    }
