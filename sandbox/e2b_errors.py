"""Translate e2b SDK and transport errors into the promptkiln error tree, at the backend boundary.

    e2b / transport exception                         -> promptkiln error
    ------------------------------------------------     ------------------------------------------
    AuthenticationException (401, missing key)           BackendUnavailable  "E2B rejected the API key"
    RateLimitException (429: rate limit, sandbox quota)  BackendAtCapacity   "rate limit or quota"
    ServiceBusyException (503)                           BackendAtCapacity   "no capacity right now"
    404 when creating (unknown template, old API)        ImageError          "template ... not found"
    SandboxNotRunningException, SandboxNotFoundException SandboxError        "the sandbox is gone"
    SandboxUnreachableException                          BackendUnavailable  "cannot reach the sandbox"
    NotEnoughSpaceException (507)                        LimitExceeded("disk")
    TimeoutException (a request timed out)               BackendUnavailable  "did not answer in time"
    SandboxException with a 5xx status (e.g. 502)        BackendUnavailable  "the E2B API answered 502"
    httpx.TransportError, OSError, pyqwest errors        BackendUnavailable  "cannot reach E2B at ..."
    anything else                                        BackendUnavailable  "E2B failed while ..."

Every message names the action that failed and says what to do next; the original exception is
kept as ``__cause__``. A test walks the SDK's exception classes and fails if one is left unmapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from promptkiln.errors import (
    BackendAtCapacity,
    BackendUnavailable,
    ImageError,
    LimitExceeded,
    PromptkilnError,
    SandboxError,
)

KEY_HINT = (
    "set E2B_API_KEY (or PROMPTKILN_E2B__API_KEY, or api_key under [e2b] in the config file) "
    "to a key from https://e2b.dev/dashboard?tab=keys"
)
GONE_HINT = (
    "the sandbox was killed or reached its lifetime; raise e2b.sandbox_timeout "
    "(PROMPTKILN_E2B__SANDBOX_TIMEOUT) if runs need longer, then run again"
)
NETWORK_HINT = (
    "check the network path to E2B and the endpoint settings (E2B_DOMAIN, E2B_API_URL, "
    "E2B_SANDBOX_URL or their [e2b] equivalents), then run again"
)


def template_error(template: str, message: str) -> PromptkilnError:
    """The 404 of sandbox creation: an unknown template, or an API without the v2 routes."""
    if "template" in message.lower():
        return ImageError(
            f"the E2B template {template!r} was not found ({message})",
            image=template,
            hint="build it with `promptkiln image e2b-template`, or name an existing one with "
            "--e2b-template / PROMPTKILN_E2B__TEMPLATE",
        )
    return BackendUnavailable(
        f"the E2B API answered 404 to creating a sandbox ({message})",
        hint="the API may predate the /v2/sandboxes route this SDK uses (e2b >= 2.51); upgrade "
        "the self-hosted E2B, or check E2B_API_URL",
    )


def map_exception(
    exc: BaseException,
    action: str,
    on_status: dict[int, Callable[[str], Exception]] | None = None,
    endpoint: str = "the E2B API",
) -> Exception:
    """The promptkiln error for ``exc``, raised while doing ``action``."""
    import httpx

    try:
        import e2b
    except ModuleNotFoundError:  # pragma: no cover - the backend is not importable then
        return BackendUnavailable(f"E2B failed while {action}: {exc}")

    text = _describe(exc)
    status = getattr(exc, "status_code", None)
    if on_status and isinstance(status, int) and status in on_status:
        message = text.split(": ", 1)[1] if ": " in text else text
        return on_status[status](message)
    if isinstance(exc, e2b.AuthenticationException):
        return BackendUnavailable(f"E2B rejected the API key while {action}: {text}", hint=KEY_HINT)
    if isinstance(exc, e2b.RateLimitException):
        return BackendAtCapacity(
            f"E2B refused the request while {action}: rate limit or sandbox quota reached ({text})",
            hint="wait for running sandboxes to finish (`promptkiln gc` kills promptkiln's "
            "leftovers) or raise the concurrency limit of your E2B plan, then run again",
        )
    if isinstance(exc, e2b.ServiceBusyException):
        return BackendAtCapacity(
            f"E2B has no capacity right now ({text}) while {action}",
            hint="nothing was changed; run again in a minute",
        )
    if isinstance(exc, e2b.SandboxNotRunningException | e2b.SandboxNotFoundException):
        return SandboxError(f"the E2B sandbox is gone ({text}) while {action}", hint=GONE_HINT)
    if isinstance(exc, e2b.SandboxUnreachableException):
        return BackendUnavailable(
            f"cannot reach the E2B sandbox while {action}: {text}", hint=NETWORK_HINT
        )
    if isinstance(exc, e2b.NotEnoughSpaceException):
        return LimitExceeded(
            "disk",
            f"the E2B sandbox ran out of disk space while {action}",
            hint="write less, or use a template with a larger disk",
        )
    if isinstance(exc, e2b.TimeoutException):
        return BackendUnavailable(
            f"E2B did not answer in time while {action}: {text}", hint=NETWORK_HINT
        )
    if isinstance(exc, e2b.SandboxException) and isinstance(status, int) and status >= 500:
        return BackendUnavailable(
            f"the E2B API answered {status} while {action}: {text}",
            hint="E2B, or a proxy in front of it, is failing; run again later, and check "
            "E2B_API_URL / E2B_DOMAIN if it persists",
        )
    if isinstance(exc, httpx.TransportError | OSError) or _is_transport(exc):
        return BackendUnavailable(
            f"cannot reach E2B ({endpoint}) while {action}: {text}", hint=NETWORK_HINT
        )
    return BackendUnavailable(
        f"E2B failed while {action}: {type(exc).__name__}: {text}",
        hint="run again; if it repeats, check `promptkiln doctor` and the E2B status page",
    )


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # an SDK exception whose __str__ needs fields it was not given
        text = ""
    return " ".join(text.split())[:400] or type(exc).__name__


def _is_transport(exc: BaseException) -> bool:
    try:
        import pyqwest
    except ModuleNotFoundError:  # pragma: no cover - older SDKs
        return False
    kinds = tuple(
        k
        for k in (getattr(pyqwest, n, None) for n in ("ReadError", "WriteError", "StreamError"))
        if isinstance(k, type)
    )
    return bool(kinds) and isinstance(exc, kinds)


@contextmanager
def translate_errors(
    action: str,
    *,
    on_status: dict[int, Callable[[str], Exception]] | None = None,
    endpoint: str = "the E2B API",
) -> Iterator[None]:
    """Re-raise anything but a PromptkilnError as one, ``from`` the original."""
    try:
        yield
    except PromptkilnError:
        raise
    except Exception as exc:
        raise map_exception(exc, action, on_status, endpoint) from exc


__all__ = ["KEY_HINT", "map_exception", "template_error", "translate_errors"]
