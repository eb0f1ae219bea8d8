"""The fake E2B: control plane + envd behind one loopback HTTP/1.1 port.

Point the SDK at it with ``E2B_API_URL`` and ``E2B_SANDBOX_URL`` (both :attr:`FakeE2B.url`).
Requests carrying ``E2b-Sandbox-Id`` go to that sandbox's envd (``E2b-Sandbox-Port: 49983``) or,
in a ``code-interpreter-v1`` sandbox, to its code-interpreter server (port 49999, jupyter.py),
the way E2B's edge proxy routes them; everything else is the control plane. A sandbox that is
gone answers 502 "...was not found", a port nothing listens on 502 "...port is not open", like
the proxy.

Test hooks: :meth:`fail` makes the next matching requests fail with a status (502, 503, ...),
:meth:`kill` deletes a sandbox behind the client's back, :attr:`requests` logs what was asked,
:attr:`capacity` caps the live sandboxes: a create beyond it answers 429 with E2B's own
"maximum number of concurrent E2B sandboxes" message, as a team at its concurrency limit sees.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from .box import LABEL, LABEL_FAKE, LABEL_PID, LABEL_VALUE, Box, new_id
from .control import ControlPlane
from .envd import ENVD_PORT, Envd
from .jupyter import JUPYTER_PORT, Jupyter
from .wsgi import WSGIServer

DEFAULT_API_KEY = "e2b_fake_0123456789abcdef0123456789abcdef"


@dataclass
class SandboxRecord:
    sandbox_id: str
    template: str
    metadata: dict[str, str]
    env_vars: dict[str, str]
    allow_internet_access: bool | None
    started_at: float
    end_at: float
    box: Box
    access_token: str
    timer: threading.Timer | None = None


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    message: str
    plane: str  # "api", "envd" or "any"


@dataclass
class _Log:
    entries: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeE2B:
    def __init__(
        self,
        image: str,
        *,
        api_key: str = DEFAULT_API_KEY,
        templates: Iterable[str] = ("promptkiln-docs", "base", "code-interpreter-v1"),
        kernel_templates: Iterable[str] = ("code-interpreter-v1",),
        envd_version: str = "0.6.4",
        verbose: bool = False,
    ) -> None:
        self.image = image
        self.api_key = api_key
        self.templates = set(templates)
        #: Templates whose sandboxes run E2B's code-interpreter server on port 49999.
        self.kernel_templates = set(kernel_templates)
        self.envd_version = envd_version
        self._records: dict[str, SandboxRecord] = {}
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._log = _Log()
        self.control = ControlPlane(self)
        self.envd = Envd(self)
        self.jupyter = Jupyter(self)
        self._server = WSGIServer(self._app, verbose=verbose)
        self.instance = uuid.uuid4().hex
        #: Live sandboxes at most (None: no limit); creates beyond it answer 429.
        self.capacity: int | None = None
        self._starting = 0

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> FakeE2B:
        reap()  # leftovers of test processes that died without cleaning up
        self._server.start()
        return self

    def stop(self) -> None:
        for sid in list(self._records):
            self.kill(sid)
        self._server.stop()
        reap(self.instance)

    def __enter__(self) -> FakeE2B:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test hooks --------------------------------------------------------------------------
    @property
    def requests(self) -> list[tuple[str, str]]:
        with self._log.lock:
            return list(self._log.entries)

    def fail(
        self,
        status: int,
        *,
        method: str = "",
        path: str = ".*",
        times: int = 1_000_000,
        message: str | None = None,
        plane: str = "api",
    ) -> None:
        """Answer the next ``times`` requests matching ``method``/``path`` with ``status``."""
        self._faults.append(
            _Fault(method, re.compile(path), status, times, message or f"fake {status}", plane)
        )

    def clear_faults(self) -> None:
        self._faults.clear()
        self.capacity = None

    def live_sandboxes(self) -> list[SandboxRecord]:
        with self._lock:
            return list(self._records.values())

    def record(self, sandbox_id: str) -> SandboxRecord | None:
        with self._lock:
            return self._records.get(sandbox_id)

    def box_for(self, sandbox_id: str | None) -> Box | None:
        record = self.record(sandbox_id or "")
        return None if record is None or record.box.dead else record.box

    def kill(self, sandbox_id: str) -> bool:
        with self._lock:
            record = self._records.pop(sandbox_id, None)
        if record is None:
            return False
        if record.timer is not None:
            record.timer.cancel()
        record.box.destroy()
        return True

    # -- used by the control plane -----------------------------------------------------------
    def create_sandbox(
        self,
        *,
        template: str,
        timeout: int,
        metadata: dict[str, str],
        env_vars: dict[str, str],
        allow_internet_access: bool | None,
    ) -> SandboxRecord | None:
        """A new sandbox, or None when :attr:`capacity` sandboxes already live."""
        with self._lock:
            if self.capacity is not None and len(self._records) + self._starting >= self.capacity:
                return None
            self._starting += 1
        record = None
        try:
            sid = new_id()
            box = Box(
                self.image,
                sid,
                env=env_vars,
                owner=self.instance,
                kernel=template in self.kernel_templates,
            )
            box.start()
            now = time.time()
            record = SandboxRecord(
                sid,
                template,
                metadata,
                env_vars,
                allow_internet_access,
                now,
                now + timeout,
                box,
                access_token=secrets.token_hex(16),
            )
        finally:
            with self._lock:  # counted as starting until it is counted as live
                self._starting -= 1
                if record is not None:
                    self._records[sid] = record
        self.set_timeout(sid, timeout)
        return record

    def set_timeout(self, sandbox_id: str, timeout: int, *, extend_only: bool = False) -> bool:
        record = self.record(sandbox_id)
        if record is None:
            return False
        end = time.time() + timeout
        if extend_only and end <= record.end_at:
            return True
        if record.timer is not None:
            record.timer.cancel()
        record.end_at = end
        record.timer = threading.Timer(timeout, self.kill, args=(sandbox_id,))
        record.timer.daemon = True
        record.timer.start()
        return True

    # -- routing -----------------------------------------------------------------------------
    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        sid = environ.get("HTTP_E2B_SANDBOX_ID")
        plane = "envd" if sid else "api"
        with self._log.lock:
            self._log.entries.append((method, path))
        for fault in self._faults:
            if (
                fault.times > 0
                and fault.plane in (plane, "any")
                and (not fault.method or fault.method == method)
                and fault.path.fullmatch(path)
            ):
                fault.times -= 1
                return _plain(
                    start_response, fault.status, {"code": fault.status, "message": fault.message}
                )
        if not sid:
            try:
                return self.control(environ, start_response)
            except Exception as exc:  # what the real API does with its own failures
                return _plain(start_response, 500, {"code": 500, "message": f"fake: {exc}"})
        record = self.record(sid)
        if record is None or record.box.dead:
            return _plain(
                start_response,
                502,
                {"sandboxId": sid, "code": 502, "message": f"The sandbox {sid} was not found"},
            )
        port = environ.get("HTTP_E2B_SANDBOX_PORT")
        if port != ENVD_PORT and not (port == JUPYTER_PORT and record.box.kernel):
            return _plain(
                start_response,
                502,
                {"code": 502, "message": "The sandbox is running but port is not open"},
            )
        if environ.get("HTTP_X_ACCESS_TOKEN") != record.access_token:
            return _plain(start_response, 401, {"code": 401, "message": "invalid access token"})
        if port == JUPYTER_PORT:  # the code-interpreter server checks envd's token too
            return self.jupyter(environ, start_response)
        return self.envd(environ, start_response)


def _plain(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} Error",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def reap(instance: str | None = None) -> int:
    """Remove the containers and volumes of one fake instance, or (``None``) those whose test
    process is gone. Other live test sessions' sandboxes are never touched."""
    api = docker.APIClient(version="auto")

    def doomed(labels: dict[str, str]) -> bool:
        if instance is not None:
            return labels.get(LABEL_FAKE) == instance
        try:
            os.kill(int(labels.get(LABEL_PID, "0")), 0)
        except (ProcessLookupError, ValueError):
            return True
        except PermissionError:
            return False
        return False

    removed = 0
    for c in api.containers(all=True, filters={"label": f"{LABEL}={LABEL_VALUE}"}):
        if doomed(c.get("Labels") or {}):
            try:
                api.remove_container(c["Id"], force=True, v=True)
                removed += 1
            except docker.errors.NotFound:
                pass
    volumes = (api.volumes(filters={"label": f"{LABEL}={LABEL_VALUE}"}) or {}).get("Volumes")
    for v in volumes or []:
        if doomed(v.get("Labels") or {}):
            with contextlib.suppress(docker.errors.APIError):
                api.remove_volume(v["Name"], force=True)
    return removed
