"""The E2B control plane (the REST API at ``api.<domain>``), as far as the backend uses it.

Both generations of the SDK's routes are served: create at ``POST /sandboxes`` (SDK <= 2.50)
and ``POST /v2/sandboxes`` (2.51+), connect at ``/sandboxes/{id}/connect`` and
``/v2/sandboxes/{id}/connect``, list at ``GET /sandboxes`` and ``GET /v2/sandboxes``; plus
``GET``/``DELETE /sandboxes/{id}`` and ``POST /sandboxes/{id}/timeout``. Authentication is the
``X-API-KEY`` header; errors are the API's ``{"code": ..., "message": ...}`` bodies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeE2B, SandboxRecord

Response = tuple[int, Any]


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def error(code: int, message: str) -> Response:
    return code, {"code": code, "message": message}


class ControlPlane:
    def __init__(self, fake: FakeE2B) -> None:
        self.fake = fake
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("POST", re.compile(r"/(?:v2/)?sandboxes"), self.create),
            ("GET", re.compile(r"/(?:v2/)?sandboxes"), self.list),
            ("GET", re.compile(r"/sandboxes/(?P<sid>[^/]+)"), self.get),
            ("DELETE", re.compile(r"/sandboxes/(?P<sid>[^/]+)"), self.delete),
            ("POST", re.compile(r"/sandboxes/(?P<sid>[^/]+)/timeout"), self.timeout),
            ("POST", re.compile(r"/(?:v2/)?sandboxes/(?P<sid>[^/]+)/connect"), self.connect),
        ]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        status, body = self.handle(environ)
        reason = {200: "OK", 201: "Created", 204: "No Content"}.get(status, "Error")
        if status == 204:
            start_response("204 No Content", [("Content-Length", "0")])
            return []
        data = json.dumps(body).encode()
        start_response(
            f"{status} {reason}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def handle(self, environ: dict[str, Any]) -> Response:
        if environ.get("HTTP_X_API_KEY") != self.fake.api_key:
            return error(401, "Invalid API key, it must start with 'e2b_' prefix")
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                raw = environ["wsgi.input"].read()
                body = json.loads(raw) if raw else {}
                query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
                return handler(body=body, query=query, **match.groupdict())
        return error(404, f"no route for {method} {path}")

    # -- handlers ---------------------------------------------------------------------------
    def _sandbox(self, record: SandboxRecord) -> dict[str, Any]:
        out = {
            "templateID": record.template,
            "sandboxID": record.sandbox_id,
            "clientID": "fake-client",
            "envdVersion": self.fake.envd_version,
            "domain": None,
        }
        if record.access_token:
            out["envdAccessToken"] = record.access_token
        return out

    def _detail(self, record: SandboxRecord) -> dict[str, Any]:
        return {
            **self._sandbox(record),
            "startedAt": _iso(record.started_at),
            "endAt": _iso(record.end_at),
            "cpuCount": 2,
            "memoryMB": 1024,
            "diskSizeMB": 512,
            "state": "running",
            "metadata": record.metadata,
            "allowInternetAccess": record.allow_internet_access,
        }

    def create(self, body: dict[str, Any], query: dict[str, list[str]]) -> Response:
        template = body.get("templateID", "")
        if template not in self.fake.templates:
            return error(404, f"template '{template}' not found")
        record = self.fake.create_sandbox(
            template=template,
            timeout=int(body.get("timeout", 15)),
            metadata=dict(body.get("metadata") or {}),
            env_vars=dict(body.get("envVars") or {}),
            allow_internet_access=body.get("allow_internet_access"),
        )
        if record is None:  # the words of E2B's API for a team at its concurrency limit
            return error(
                429,
                f"You have reached the maximum number of concurrent E2B sandboxes "
                f"({self.fake.capacity}). If you need more, please contact us at "
                "'https://e2b.dev/docs/getting-help'",
            )
        return 201, self._sandbox(record)

    def list(self, body: dict[str, Any], query: dict[str, list[str]]) -> Response:
        wanted = dict(urllib.parse.parse_qsl((query.get("metadata") or [""])[0]))
        records = [
            r
            for r in self.fake.live_sandboxes()
            if all(r.metadata.get(k) == v for k, v in wanted.items())
        ]
        return 200, [self._detail(r) for r in records]

    def get(self, body: dict[str, Any], query: dict[str, list[str]], sid: str) -> Response:
        record = self.fake.record(sid)
        if record is None:
            return error(404, f"sandbox \"{sid}\" doesn't exist or you don't have access to it")
        return 200, self._detail(record)

    def delete(self, body: dict[str, Any], query: dict[str, list[str]], sid: str) -> Response:
        if not self.fake.kill(sid):
            return error(404, f'sandbox "{sid}" not found')
        return 204, None

    def timeout(self, body: dict[str, Any], query: dict[str, list[str]], sid: str) -> Response:
        if not self.fake.set_timeout(sid, int(body.get("timeout", 0))):
            return error(404, f'sandbox "{sid}" not found')
        return 204, None

    def connect(self, body: dict[str, Any], query: dict[str, list[str]], sid: str) -> Response:
        record = self.fake.record(sid)
        if record is None:
            return error(404, f'sandbox "{sid}" not found')
        if "timeout" in body:
            self.fake.set_timeout(sid, int(body["timeout"]), extend_only=True)
        return 200, self._sandbox(record)
