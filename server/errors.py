"""One error object for the whole API, and the one place PromptkilnError becomes a status.

Every error answers ``{"error": {"type", "code", "message", "hint", "param", "request_id"}}``.
``code`` for a job's failure mirrors the CLI's exit-code classes (see :func:`error_code`).
"""

from __future__ import annotations

from typing import Any

from promptkiln import errors as e


class ApiError(Exception):
    """An HTTP error with one clear message and what to do about it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.param = param
        self.headers = headers or {}

    @property
    def type(self) -> str:
        if self.status == 401:
            return "authentication_error"
        if self.status == 429:
            return "rate_limit_error"
        if self.status >= 500:
            return "api_error"
        return "invalid_request_error"


def not_found(what: str, ref: str) -> ApiError:
    """The one answer for an id that does not exist or belongs to another tenant."""
    return ApiError(
        404,
        "not_found",
        f"no {what} {ref[:80]!r}",
        hint=f"check the id; list yours with GET /v1/{what}s",
    )


#: error class -> (code, CLI exit code); the first match in this order wins.
_CODES: tuple[tuple[type[e.PromptkilnError], str], ...] = (
    (e.ConfigError, "config_error"),
    (e.UsageError, "usage_error"),
    (e.BackendNotFound, "backend_not_found"),
    (e.BackendAtCapacity, "capacity"),
    (e.BackendUnavailable, "backend_unavailable"),
    (e.EngineError, "engine_error"),
    (e.ImageError, "image_error"),
    (e.PlatformError, "platform_error"),
    (e.SandboxTimeout, "sandbox_timeout"),
    (e.LimitExceeded, "limit_exceeded"),
    (e.SandboxError, "sandbox_error"),
    (e.ScriptFailed, "script_failed"),
    (e.Unmet, "unmet"),
    (e.OutputRejected, "output_rejected"),
    (e.DestinationError, "destination_error"),
    (e.OutputError, "output_error"),
    (e.ExtractionError, "extraction_error"),
    (e.AttemptsExhausted, "attempts_exhausted"),
    (e.ModelAuthError, "model_auth_error"),
    (e.ModelNotFound, "model_not_found"),
    (e.ModelRateLimited, "model_rate_limited"),
    (e.ModelUnavailable, "model_unavailable"),
    (e.LocalModelError, "local_model_error"),
    (e.GenerationError, "generation_error"),
)


def error_code(exc: e.PromptkilnError) -> str:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return "promptkiln_error"


def job_error(exc: e.PromptkilnError) -> dict[str, Any]:
    """A failed job's error object: the CLI's message, hint and exit code."""
    return {
        "code": error_code(exc),
        "message": exc.message,
        "hint": exc.hint,
        "exit_code": exc.exit_code,
    }


def from_promptkiln(exc: e.PromptkilnError) -> ApiError:
    """A request's PromptkilnError as an HTTP error: bad input 4xx, the machinery 503."""
    if isinstance(exc, e.UsageError | e.ConfigError | e.ExtractionError):
        status = 400
    elif isinstance(exc, e.PlatformError | e.GenerationError):
        status = 503
    else:
        status = 422
    headers = {"Retry-After": "15"} if isinstance(exc, e.BackendAtCapacity) else None
    return ApiError(status, error_code(exc), exc.message, hint=exc.hint, headers=headers)


def body(err: ApiError, request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "type": err.type,
            "code": err.code,
            "message": err.message,
            "hint": err.hint,
            "param": err.param,
            "request_id": request_id,
        }
    }
