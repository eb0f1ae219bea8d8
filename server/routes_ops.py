"""Operations: /healthz (the process is up), /readyz (engine, image, model ready, with what is
missing), /metrics (Prometheus text), and /docs (a self-contained API page: no CDN)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from promptkiln.config import Settings
from promptkiln.server import queue
from promptkiln.server.deps import state
from promptkiln.server.metrics import Labels

router = APIRouter(tags=["operations"])
READY_CACHE_S = 5.0
_ready_cache: dict[str, tuple[float, dict[str, Any]]] = {}


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness(settings: Settings) -> dict[str, Any]:
    """What the server needs to run a job, each with ok and what is missing."""
    checks: dict[str, dict[str, Any]] = {}
    if settings.backend == "docker":
        checks.update(_docker(settings))
    else:
        checks["backend"] = {"ok": True, "detail": f"backend {settings.backend}"}
    checks["model"] = _model(settings)
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}


def _docker(settings: Settings) -> dict[str, dict[str, Any]]:
    from promptkiln.errors import PromptkilnError
    from promptkiln.image.status import image_status
    from promptkiln.sandbox.docker import connect

    try:
        client = connect(settings.docker_host, timeout=5)
        client.ping()
    except PromptkilnError as exc:
        return {
            "engine": {"ok": False, "detail": exc.message, "hint": exc.hint},
            "image": {"ok": False, "detail": "unknown: the engine is not reachable"},
        }
    engine = {"ok": True, "detail": "Docker engine reachable"}
    try:
        status = image_status(client, settings.image)
    except PromptkilnError as exc:
        return {"engine": engine, "image": {"ok": False, "detail": exc.message, "hint": exc.hint}}
    if not status.exists:
        image = {
            "ok": False,
            "detail": f"the sandbox image {settings.image} is not built",
            "hint": "run `promptkiln image build`",
        }
    else:
        image = {"ok": True, "detail": f"{settings.image} ({status.version or 'unversioned'})"}
    return {"engine": engine, "image": image}


def _model(settings: Settings) -> dict[str, Any]:
    if settings.model and settings.api_base:
        import httpx

        url = settings.api_base.rstrip("/") + "/models"
        try:
            httpx.get(url, timeout=3).raise_for_status()
        except httpx.HTTPError as exc:
            return {
                "ok": False,
                "detail": f"{settings.model}: {url} does not answer ({type(exc).__name__})",
                "hint": "start the model server or fix --api-base",
            }
        return {"ok": True, "detail": f"{settings.model} at {settings.api_base}"}
    if settings.model:
        return {"ok": True, "detail": f"{settings.model} (provider API)"}
    from promptkiln.llm import local

    desc = local.describe(settings)
    if not desc["present"]:
        return {
            "ok": False,
            "detail": f"the bundled model {desc['name']} is not assembled at {desc['path']}",
            "hint": "run one `promptkiln make` to assemble it, or pass --model",
        }
    return {"ok": True, "detail": f"bundled {desc['name']}"}


@router.get(
    "/readyz",
    summary="Engine, image and model ready (503 with what is missing)",
    responses={503: {"description": "Not ready: the checks say what is missing"}},
)
def readyz(request: Request) -> JSONResponse:
    settings = state(request).settings
    key = str(settings.home)
    hit = _ready_cache.get(key)
    if hit is None or time.monotonic() - hit[0] > READY_CACHE_S:
        hit = (time.monotonic(), readiness(settings))
        _ready_cache[key] = hit
    report = hit[1]
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(request: Request) -> PlainTextResponse:
    s = state(request)
    counts = queue.status_counts(s.store())
    gauges: dict[str, dict[Labels, float]] = {
        "promptkiln_jobs": {(("status", k),): float(v) for k, v in counts.items()},
        "promptkiln_queue_depth": {(): float(counts["queued"])},
        "promptkiln_workers_busy": {(): float(s.pool.busy)},
        "promptkiln_workers": {(): float(s.pool.size)},
    }
    sandboxes = s.pool.sandboxes
    if sandboxes is not None:
        gauges["promptkiln_pool_ready"] = {(): float(sandboxes.ready_count())}
        gauges["promptkiln_pool_size"] = {(): float(sandboxes.size)}
    return PlainTextResponse(
        s.metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def docs() -> HTMLResponse:
    return HTMLResponse((Path(__file__).with_name("docs.html")).read_text(encoding="utf-8"))
