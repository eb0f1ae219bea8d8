"""One WSGI app for everything an E2B SDK sends: control plane, envd and code interpreter.

Requests carrying ``E2b-Sandbox-Id`` go to that sandbox's envd (``E2b-Sandbox-Port: 49983``)
or, in a code-interpreter sandbox, to its code-interpreter server (port 49999), the way E2B's
edge proxy routes them; everything else is the control plane. A sandbox that is gone answers
502 "...was not found", a port nothing listens on 502 "...port is not open", like the proxy; a
request without the sandbox's access token (``X-Access-Token``, which only its tenant got from
create or connect) answers 401.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from promptkiln.server.e2b.control import Authenticate, ControlPlane
from promptkiln.server.e2b.envd import ENVD_PORT, Envd
from promptkiln.server.e2b.fleet import Fleet
from promptkiln.server.e2b.kernel import JUPYTER_PORT, Jupyter

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Router:
    def __init__(self, fleet: Fleet, authenticate: Authenticate) -> None:
        self.fleet = fleet
        self.control = ControlPlane(fleet, authenticate)
        self.envd = Envd(fleet)
        self.jupyter = Jupyter(fleet)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        sid = environ.get("HTTP_E2B_SANDBOX_ID")
        if not sid:
            return self.control(environ, start_response)
        record = self.fleet.record(sid)
        if record is None or record.box.dead:
            return plain(
                start_response,
                502,
                {"sandboxId": sid, "code": 502, "message": f"The sandbox {sid} was not found"},
            )
        port = environ.get("HTTP_E2B_SANDBOX_PORT")
        if port != ENVD_PORT and not (port == JUPYTER_PORT and record.box.kernel):
            return plain(
                start_response,
                502,
                {"code": 502, "message": "The sandbox is running but port is not open"},
            )
        token = environ.get("HTTP_X_ACCESS_TOKEN") or ""
        if not hmac.compare_digest(token.encode(), record.access_token.encode()):
            return plain(start_response, 401, {"code": 401, "message": "invalid access token"})
        if port == JUPYTER_PORT:  # the code-interpreter server checks envd's token too
            return self.jupyter(environ, start_response)
        return self.envd(environ, start_response)


def plain(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} Error",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
