"""Schemathesis hooks for the API fuzz run (loaded with ``SCHEMATHESIS_HOOKS``): one more check,
``no_cross_tenant``, beside Schemathesis's own.

The run is authenticated as tenant A. Every response A gets is replayed with tenant B's key
(``PROMPTKILN_FUZZ_OTHER_KEY``): a request on one of A's ids (a path parameter) that A was
answered with 2xx must answer B with 404, the one answer for an id that is not yours; a list
B reads must not hold any id of A's list. B's own ids (``PROMPTKILN_FUZZ_OTHER_IDS``, comma
separated) must never appear in anything A is answered.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import schemathesis

OTHER_KEY = os.environ.get("PROMPTKILN_FUZZ_OTHER_KEY", "")
OTHER_IDS = [i for i in os.environ.get("PROMPTKILN_FUZZ_OTHER_IDS", "").split(",") if i]


def _as_other(response: schemathesis.Response) -> httpx.Response:
    request = response.request
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in ("authorization", "content-length", "idempotency-key")
    }
    headers["Authorization"] = f"Bearer {OTHER_KEY}"
    body: Any = request.body
    return httpx.request(
        str(request.method),
        str(request.url),
        headers=headers,
        content=body if isinstance(body, bytes | str) else None,
        timeout=30,
    )


def _list_ids(content: bytes) -> set[str]:
    try:
        body = json.loads(content)
    except ValueError:
        return set()
    if not isinstance(body, dict) or body.get("object") != "list":
        return set()
    return {str(item.get("id")) for item in body.get("data", []) if isinstance(item, dict)}


@schemathesis.check
def no_cross_tenant(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    text = response.content.decode("utf-8", "replace")
    leaked = [i for i in OTHER_IDS if i in text]
    assert not leaked, f"tenant A was shown tenant B's ids: {leaked}"
    if not OTHER_KEY or not 200 <= response.status_code < 300:
        return None
    if case.path_parameters:
        other = _as_other(response)
        assert other.status_code == 404, (
            f"tenant B asked for tenant A's {case.path_parameters} and got "
            f"{other.status_code} (not 404): {other.text[:300]}"
        )
    elif case.method.upper() == "GET":
        mine = _list_ids(response.content)
        if mine:
            theirs = _list_ids(_as_other(response).content)
            assert not mine & theirs, f"tenant B's list shows tenant A's ids: {mine & theirs}"
    return None
