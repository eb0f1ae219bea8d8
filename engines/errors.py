"""Vendor SDK errors -> the promptkiln error tree, at the engine boundary (``raise ... from``).

Status codes decide, the same for the three SDKs (anthropic and openai carry ``status_code``,
google-genai's ``APIError`` carries ``code``):

    401, 403        -> ModelAuthError       (69)  check the key
    400 key invalid -> ModelAuthError       (69)  Gemini's answer to a wrong key: 400
                                                  INVALID_ARGUMENT, reason API_KEY_INVALID
    404 container   -> ContainerExpired     (internal: the engine starts a new container)
    413             -> LimitExceeded        (125) a file is larger than the vendor takes
    429             -> ModelRateLimited     (69)  wait, or lower the request rate
    500, 503, 529   -> ModelUnavailable     (69)  the vendor is overloaded or down
    connection      -> ModelUnavailable     (69)  the base URL cannot be reached
    other 4xx       -> GenerationError      (69)  the vendor refused the request

Each line names the status once, then the vendor's own message (taken from the error body, not
the SDK's ``Error code: 401 - {...}`` rendering of it).
"""

from __future__ import annotations

import re
from typing import Any

from promptkiln.engine_settings import BASE_URL_VARIABLES, KEY_VARIABLES
from promptkiln.errors import (
    GenerationError,
    LimitExceeded,
    ModelAuthError,
    ModelRateLimited,
    ModelUnavailable,
    PromptkilnError,
)

LABELS = {"claude": "Anthropic", "openai": "OpenAI", "gemini": "Gemini"}


class ContainerExpired(GenerationError):
    """The vendor no longer has the session's container; the engine starts a new one."""


def is_container_gone(exc: BaseException) -> bool:
    """Whether a vendor error says the container (named in the request) no longer exists."""
    return status_of(exc) in (400, 404) and "container" in str(exc).lower()


def status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


#: What the SDKs put before the vendor's message: "Error code: 401 - ", "401 ", "401: ",
#: "400 INVALID_ARGUMENT. ".
_PREFIX = re.compile(r"^(?:Error code:\s*)?\d{3}(?:\s+[A-Z_]+\.)?[\s:\-–]*")


def _vendor_message(body: Any) -> str | None:
    """The first ``message`` string of an error body (``{"error": {"message": ...}}`` and the
    shapes around it), depth first."""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str) and body["message"].strip():
            return str(body["message"])
        for value in body.values():
            if isinstance(value, dict | list) and (found := _vendor_message(value)):
                return found
    elif isinstance(body, list):
        for item in body:
            if found := _vendor_message(item):
                return found
    return None


def _message(exc: BaseException) -> str:
    """The vendor's words, without the status the SDK already put in front of them."""
    found = _vendor_message(getattr(exc, "body", None)) or _vendor_message(
        getattr(exc, "details", None)
    )
    text = (found or str(getattr(exc, "message", None) or exc)).strip()
    for _ in range(2):  # "401: 401 invalid x-api-key" has it twice
        text = _PREFIX.sub("", text, count=1).strip()
    text = text or type(exc).__name__
    lines = text.splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _key_invalid(exc: BaseException) -> bool:
    """Gemini answers a wrong key with 400 INVALID_ARGUMENT and an ``ErrorInfo`` whose reason is
    ``API_KEY_INVALID`` ("API key not valid. Please pass a valid API key.")."""
    details = getattr(exc, "details", None) or getattr(exc, "body", None)
    return "API_KEY_INVALID" in repr(details) or "API key not valid" in str(exc)


def map_vendor_error(exc: BaseException, engine: str) -> PromptkilnError:
    """The promptkiln error for a vendor SDK exception (call as ``raise map_vendor_error(...) from exc``)."""
    if isinstance(exc, PromptkilnError):
        return exc
    who = LABELS.get(engine, engine)
    status = status_of(exc)
    detail = _message(exc)
    keys = " or ".join(KEY_VARIABLES.get(engine, ()))
    if status in (401, 403) or (status == 400 and _key_invalid(exc)):
        return ModelAuthError(
            f"{who} refused the API key ({status}: {detail})",
            hint=f"set a valid key in {keys} or [engines.{engine}] api_key, or use --engine local",
        )
    if status == 413:
        return LimitExceeded(
            "vendor_file",
            f"{who} refused a file as too large ({detail})",
            hint="send smaller inputs, or use --engine local (no vendor size limit)",
        )
    if status == 429:
        return ModelRateLimited(
            f"{who} rate limit or quota reached ({detail})",
            hint="wait a minute and try again, or use another --engine",
        )
    if status is not None and status >= 500:
        return ModelUnavailable(
            f"{who} is overloaded or unavailable ({status}: {detail})",
            hint="try again shortly, or use another --engine (local never depends on a vendor)",
        )
    if status is not None:
        return GenerationError(
            f"{who} refused the request ({status}: {detail})",
            hint="check the model name and settings in [engines." + engine + "]",
        )
    name = type(exc).__name__
    if "Connect" in name or "Timeout" in name or isinstance(exc, OSError):
        return ModelUnavailable(
            f"cannot reach {who} ({name}: {detail})",
            hint=f"check the network or the base URL ({BASE_URL_VARIABLES.get(engine, '')}), "
            "or use --engine local",
        )
    return GenerationError(
        f"{who} answered in a way promptkiln cannot use ({name}: {detail})",
        hint="try again, or use --engine local",
    )
