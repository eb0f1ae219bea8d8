"""The E2B control plane (the REST API at ``api.<domain>``), scoped to the caller's tenant.

Both generations of the SDK's routes are served: create at ``POST /sandboxes`` (SDK <= 2.50)
and ``POST /v2/sandboxes`` (2.51+), connect at ``/sandboxes/{id}/connect`` and
``/v2/sandboxes/{id}/connect``, list (with ``metadata`` filters) at ``GET /sandboxes`` and
``GET /v2/sandboxes``; plus ``GET``/``DELETE /sandboxes/{id}`` and ``POST /sandboxes/{id}/timeout``.
Pause and resume answer 501: a paused sandbox would need its memory kept, which containers do not
offer here. Authentication is the ``X-API-KEY`` header (a promptkiln key); errors are the API's
``{"code": ..., "message": ...}`` bodies. Another tenant's sandbox answers 404, as a missing one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from promptkiln.server.e2b.fleet import Fleet, Owner, Refused, SandboxRecord

Response = tuple[int, Any]
Authenticate = Callable[[str], Owner | None]

INVALID_KEY = (
    "Invalid API key: use a key of this server (promptkiln keys create --tenant NAME) as "
    "E2B_API_KEY"
)
MAX_TIMEOUT_S = 24 * 3600


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def error(code: int, message: str) -> Response:
    return code, {"code": code, "message": message}


def json_response(start_response: Callable[..., Any], status: int, body: Any) -> list[bytes]:
    if status == 204:
        start_response("204 No Content", [("Content-Length", "0")])
        return []
    reason = {200: "OK", 201: "Created"}.get(status, "Error")
    data = json.dumps(body).encode()
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


class ControlPlane:
    def __init__(self, fleet: Fleet, authenticate: Authenticate) -> None:
        self.fleet = fleet
        self.authenticate = authenticate
        sid = r"(?P<sid>[^/]+)"
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("POST", re.compile(r"/(?:v2/)?sandboxes"), self.create),
            ("GET", re.compile(r"/(?:v2/)?sandboxes"), self.list),
            ("GET", re.compile(rf"/sandboxes/{sid}"), self.get),
            ("DELETE", re.compile(rf"/sandboxes/{sid}"), self.delete),
            ("POST", re.compile(rf"/sandboxes/{sid}/timeout"), self.timeout),
            ("POST", re.compile(rf"/(?:v2/)?sandboxes/{sid}/connect"), self.connect),
            ("POST", re.compile(rf"/sandboxes/{sid}/(?:pause|resume)"), self.pause),
        ]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        status, body = self.handle(environ)
        return json_response(start_response, status, body)

    def handle(self, environ: dict[str, Any]) -> Response:
        owner = self.authenticate(environ.get("HTTP_X_API_KEY") or "")
        if owner is None:
            return error(401, INVALID_KEY)
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                raw = environ["wsgi.input"].read()
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    return error(400, "the request body is not valid JSON")
                if not isinstance(body, dict):
                    return error(400, "the request body must be a JSON object")
                query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
                return handler(owner, body=body, query=query, **match.groupdict())
        return error(404, f"no route for {method} {path}")

    # -- handlers ---------------------------------------------------------------------------
    def _sandbox(self, record: SandboxRecord) -> dict[str, Any]:
        return {
            "templateID": record.template,
            "sandboxID": record.sandbox_id,
            "clientID": "promptkiln",
            "envdVersion": self.fleet.envd_version,
            "envdAccessToken": record.access_token,
            "domain": None,
        }

    def _detail(self, record: SandboxRecord) -> dict[str, Any]:
        spec = self.fleet.spec
        return {
            **self._sandbox(record),
            "startedAt": _iso(record.started_at),
            "endAt": _iso(record.end_at),
            "cpuCount": max(1, int(spec.cpus)),
            "memoryMB": spec.memory // 2**20,
            "diskSizeMB": 256,
            "state": "running",
            "metadata": record.metadata,
            "allowInternetAccess": record.allow_internet_access,
        }

    def create(self, owner: Owner, body: dict[str, Any], query: dict[str, list[str]]) -> Response:
        template = str(body.get("templateID", ""))
        if template not in self.fleet.templates:
            return error(404, f"template '{template}' not found")
        try:
            timeout = int(body.get("timeout", 15))
        except (TypeError, ValueError):
            return error(400, "timeout must be a whole number of seconds")
        if not 0 < timeout <= MAX_TIMEOUT_S:
            return error(400, f"timeout must be between 1 and {MAX_TIMEOUT_S} seconds")
        internet = body.get("allow_internet_access")
        if internet and not owner.internet:
            return error(
                403,
                "this tenant's sandboxes may not reach the internet; create it with "
                "allow_internet_access=False, or ask the operator (--e2b-allow-internet)",
            )
        try:
            record = self.fleet.create(
                owner,
                template=template,
                timeout=timeout,
                metadata={str(k): str(v) for k, v in (body.get("metadata") or {}).items()},
                env_vars={str(k): str(v) for k, v in (body.get("envVars") or {}).items()},
                allow_internet_access=internet,
            )
        except Refused as exc:
            return error(exc.status, exc.message)
        return 201, self._sandbox(record)

    def list(self, owner: Owner, body: dict[str, Any], query: dict[str, list[str]]) -> Response:
        wanted = dict(urllib.parse.parse_qsl((query.get("metadata") or [""])[0]))
        states = ",".join(query.get("state") or ["running"]).split(",")
        if "running" not in states:
            return 200, []
        records = [
            r
            for r in self.fleet.live(owner.tenant_id)
            if all(r.metadata.get(k) == v for k, v in wanted.items())
        ]
        return 200, [self._detail(r) for r in records]

    def _mine(self, owner: Owner, sid: str) -> SandboxRecord | Response:
        record = self.fleet.record(sid, owner.tenant_id)
        if record is None:
            return error(404, f"sandbox \"{sid}\" doesn't exist or you don't have access to it")
        return record

    def get(self, owner: Owner, body: dict[str, Any], query: Any, sid: str) -> Response:
        record = self._mine(owner, sid)
        return record if isinstance(record, tuple) else (200, self._detail(record))

    def delete(self, owner: Owner, body: dict[str, Any], query: Any, sid: str) -> Response:
        record = self._mine(owner, sid)
        if isinstance(record, tuple):
            return record
        self.fleet.kill(sid)
        return 204, None

    def timeout(self, owner: Owner, body: dict[str, Any], query: Any, sid: str) -> Response:
        record = self._mine(owner, sid)
        if isinstance(record, tuple):
            return record
        try:
            seconds = int(body.get("timeout", 0))
        except (TypeError, ValueError):
            return error(400, "timeout must be a whole number of seconds")
        if not 0 <= seconds <= MAX_TIMEOUT_S:
            return error(400, f"timeout must be between 0 and {MAX_TIMEOUT_S} seconds")
        self.fleet.set_timeout(sid, seconds)
        return 204, None

    def connect(self, owner: Owner, body: dict[str, Any], query: Any, sid: str) -> Response:
        record = self._mine(owner, sid)
        if isinstance(record, tuple):
            return record
        if "timeout" in body:
            try:
                seconds = min(int(body["timeout"]), MAX_TIMEOUT_S)
            except (TypeError, ValueError):
                return error(400, "timeout must be a whole number of seconds")
            if record.end_at < time.time() + seconds:
                self.fleet.set_timeout(sid, seconds)
        return 200, self._sandbox(record)

    def pause(self, owner: Owner, body: dict[str, Any], query: Any, sid: str) -> Response:
        record = self._mine(owner, sid)
        if isinstance(record, tuple):
            return record
        return error(
            501,
            "pause and resume are not available on promptkiln's E2B: a sandbox runs until it "
            "is killed or its timeout ends; extend it with set_timeout instead",
        )
