"""The test E2B: the product's E2B server (promptkiln.server.e2b) behind one loopback port, with
one fixed API key and test hooks.

Point the SDK at it with ``E2B_API_URL`` and ``E2B_SANDBOX_URL`` (both :attr:`FakeE2B.url`).
The routing, control plane, envd and code interpreter are the product's own
(:class:`~promptkiln.server.e2b.router.Router` over a :class:`~promptkiln.server.e2b.fleet.Fleet`),
so the backend's tests exercise the same server ``promptkiln serve`` runs; only the HTTP server
(wsgi.py, a threaded HTTP/1.1 server) and the hooks are the test's.

Test hooks: :meth:`fail` makes the next matching requests fail with a status (502, 503, ...),
:meth:`kill` deletes a sandbox behind the client's back, :attr:`requests` logs what was asked,
:attr:`capacity` caps the live sandboxes: a create beyond it answers 429 with E2B's own
"maximum number of concurrent E2B sandboxes" message, as a team at its concurrency limit sees.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from promptkiln.server.e2b.box import BoxSpec
from promptkiln.server.e2b.fleet import Fleet, Owner, SandboxRecord
from promptkiln.server.e2b.reap import reap as _reap_all
from promptkiln.server.e2b.router import Router

from .wsgi import WSGIServer

DEFAULT_API_KEY = "e2b_fake_0123456789abcdef0123456789abcdef"


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


class FakeE2B(Fleet):
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
        self.instance = "test-" + uuid.uuid4().hex[:12]
        kernels = set(kernel_templates)
        super().__init__(
            BoxSpec(image=image, memory=2**30, pids=512),
            server=self.instance,
            templates={t: t in kernels for t in templates},
            envd_version=envd_version,
        )
        self.image = image
        self.api_key = api_key
        self._faults: list[_Fault] = []
        self._log = _Log()
        self.router = Router(self, self._authenticate)
        self._server = WSGIServer(self._app, verbose=verbose)
        #: Live sandboxes at most (None: no limit); creates beyond it answer 429.
        self.capacity: int | None = None

    def _authenticate(self, key: str) -> Owner | None:
        if key != self.api_key:
            return None
        return Owner("fake-tenant", "fake-key", "fake", max_sandboxes=self.capacity)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> FakeE2B:  # type: ignore[override]
        super().start()
        self._server.start()
        return self

    def stop(self, *, kill: bool = True) -> None:
        super().stop(kill=True)
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
        return self.live()

    # -- routing -----------------------------------------------------------------------------
    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        plane = "envd" if environ.get("HTTP_E2B_SANDBOX_ID") else "api"
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
                data = json.dumps({"code": fault.status, "message": fault.message}).encode()
                start_response(
                    f"{fault.status} Error",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
                )
                return [data]
        return self.router(environ, start_response)


def reap(instance: str | None = None) -> int:
    """Remove the sandboxes of one fake instance, or (``None``) those whose process is gone."""
    if instance is None:
        return len(_reap_all())
    from promptkiln.server.e2b.box import Box, running

    removed = 0
    for c in running(instance):
        Box(BoxSpec(image=""), "", server=instance, container_id=c["Id"]).destroy()
        removed += 1
    return removed
