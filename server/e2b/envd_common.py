"""What envd's Connect services share: the sandbox and user of a request, error codes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError

if TYPE_CHECKING:
    from promptkiln.server.e2b.box import Box
    from promptkiln.server.e2b.fleet import Fleet

BOX_TO_CODE = {
    "not_found": Code.NOT_FOUND,
    "invalid": Code.INVALID_ARGUMENT,
    "exists": Code.ALREADY_EXISTS,
    "internal": Code.INTERNAL,
}


def user_from_headers(get: Callable[[str], str | None]) -> str:
    """envd takes the user from ``Authorization: Basic base64("<user>:")``; default "user"."""
    value = get("authorization")
    if not value or not value.lower().startswith("basic "):
        return "user"
    try:
        user = base64.b64decode(value[6:]).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ConnectError(Code.UNAUTHENTICATED, "invalid authorization header") from exc
    if user not in ("user", "root"):
        raise ConnectError(Code.UNAUTHENTICATED, f"unknown user {user!r}")
    return user


class Common:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def box(self, ctx: Any) -> tuple[Box, str]:
        box = self.fleet.box_for(ctx.request_headers.get("e2b-sandbox-id"))
        if box is None:
            raise ConnectError(Code.UNAVAILABLE, "sandbox was not found")
        return box, user_from_headers(ctx.request_headers.get)
