"""Translate litellm's exceptions into the promptkiln error tree, at the boundary.

AuthenticationError, PermissionDeniedError            -> ModelAuthError
NotFoundError, LiteLLMUnknownProvider                 -> ModelNotFound
RateLimitError, BudgetExceededError                   -> ModelRateLimited
APIConnectionError, Timeout, ServiceUnavailableError,
InternalServerError, BadGatewayError                  -> ModelUnavailable
ContextWindowExceededError, or any error whose text
says the context size was exceeded                    -> ContextOverflow
anything else                                         -> GenerationError (provider's message)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from promptkiln.errors import (
    ContextOverflow,
    GenerationError,
    ModelAuthError,
    ModelNotFound,
    ModelRateLimited,
    ModelUnavailable,
)

# -- error mapping ------------------------------------------------------------------------------

#: litellm exception class name -> our class. Every class litellm.exceptions defines is listed
#: (a test enforces it), so a new litellm exception is a decision, not an accident.
#: Lookup walks the raised exception's MRO, so the most specific listed class wins.
EXCEPTION_MAP: Mapping[str, type[GenerationError]] = {
    # the key or the caller's credentials were refused
    "AuthenticationError": ModelAuthError,
    "CallerCredentialAuthenticationError": ModelAuthError,
    "PermissionDeniedError": ModelAuthError,
    # the model (or its provider) does not exist
    "NotFoundError": ModelNotFound,
    "LiteLLMUnknownProvider": ModelNotFound,
    "ModelNotMappedError": ModelNotFound,
    # too many requests, or out of quota / budget
    "RateLimitError": ModelRateLimited,
    "CallerCredentialRateLimitError": ModelRateLimited,
    "BudgetExceededError": ModelRateLimited,
    # the server or the network is down or failing
    "APIConnectionError": ModelUnavailable,
    "Timeout": ModelUnavailable,
    "ServiceUnavailableError": ModelUnavailable,
    "InternalServerError": ModelUnavailable,
    "BadGatewayError": ModelUnavailable,
    "MidStreamFallbackError": ModelUnavailable,
    # the request or the answer was bad: the provider's message says why
    "BadRequestError": GenerationError,
    "InvalidRequestError": GenerationError,
    "ContextWindowExceededError": ContextOverflow,
    "ContentPolicyViolationError": GenerationError,
    "UnsupportedParamsError": GenerationError,
    "UnsupportedEndpointError": GenerationError,
    "EndpointNotSupportedByModelError": GenerationError,
    "MalformedRequestFieldError": GenerationError,
    "ImageFetchError": GenerationError,
    "PaymentRequiredError": GenerationError,
    "RejectedRequestError": GenerationError,
    "UnprocessableEntityError": GenerationError,
    "VectorStoreSearchError": GenerationError,
    "APIError": GenerationError,
    "APIResponseValidationError": GenerationError,
    "JSONSchemaValidationError": GenerationError,
    "MockException": GenerationError,
    "OpenAIError": GenerationError,
    # proxy guardrails: not used by a direct client, but named so none slips through
    "GuardrailRaisedException": GenerationError,
    "BlockedPiiEntityError": GenerationError,
    "ModifyResponseException": GenerationError,
    "SensitiveDataRouteException": GenerationError,
}

#: How servers say the request did not fit the model's context window (llama.cpp answers 400 or
#: 500 with "exceeds the available context size"; vLLM "maximum context length"; ...).
_CONTEXT_FULL = re.compile(
    r"context[_ ](size|length|window)|maximum context|n_ctx|exceeds the available context"
    r"|too many tokens|prompt is too long",
    re.IGNORECASE,
)

_MODEL_MISSING = re.compile(
    r"model[_ ]not[_ ]found|does not exist|unknown model|no such model|model .* not found",
    re.IGNORECASE,
)


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut, so a provider's multi-line error fits in one message line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _provider_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    # litellm prefixes "litellm.AuthenticationError: AuthenticationError: OpenAIException - ..."
    message = re.sub(r"^(litellm\.\w+:\s*)?(\w+Error:\s*)?(\w+Exception\s*-\s*)?", "", str(message))
    return one_line(message) or type(exc).__name__


def _mapped_class(exc: BaseException) -> type[GenerationError]:
    for klass in type(exc).__mro__:
        if klass.__module__.startswith("litellm") and klass.__name__ in EXCEPTION_MAP:
            return EXCEPTION_MAP[klass.__name__]
    return GenerationError


def map_litellm_error(
    exc: BaseException, *, model: str = "", api_base: str | None = None
) -> GenerationError:
    """Translate an exception from litellm (or anything under it) into our tree. Pure."""
    detail = _provider_message(exc)
    target = _mapped_class(exc)
    where = f"the model server at {api_base}" if api_base else f"the provider of {model!r}"
    if target is GenerationError and getattr(exc, "status_code", None) in (401, 403):
        target = ModelAuthError
    if target is ContextOverflow or (
        target in (GenerationError, ModelUnavailable) and _CONTEXT_FULL.search(detail)
    ):
        return ContextOverflow(
            f"the request did not fit the context window of {model or 'the model'} ({detail})",
            hint="shorten the prompt or the inputs, or use a model with a larger context",
        )
    if target is GenerationError and _MODEL_MISSING.search(detail):
        target = ModelNotFound  # some servers answer 400, not 404, for an unknown model
    if target is ModelAuthError:
        return ModelAuthError(
            f"{where} rejected the API key ({detail})",
            hint="set OPENAI_API_KEY (or the provider's variable) or PROMPTKILN_API_KEY",
        )
    if target is ModelNotFound:
        return ModelNotFound(
            f"unknown model {model!r} ({detail})",
            hint="check the name; `promptkiln models` lists configured ones",
        )
    if target is ModelRateLimited:
        return ModelRateLimited(
            f"{where} is rate limiting or out of quota ({detail})",
            hint="wait and retry, lower the request rate, or check the account's quota",
        )
    if target is ModelUnavailable and _is_network(exc):
        return ModelUnavailable(
            f"cannot reach {where}: is it running? ({detail})",
            hint="check --api-base and that the server is up and reachable",
        )
    if target is ModelUnavailable:
        return ModelUnavailable(
            f"{where} failed with a server error ({detail})",
            hint="retry later; if it persists, check the server's logs",
        )
    return GenerationError(f"{model or 'the model'} failed: {detail}")


_NETWORK_ERRORS = {
    "APIConnectionError",  # litellm and openai
    "APITimeoutError",
    "Timeout",
    "ConnectError",  # httpx
    "ConnectTimeout",
    "ReadTimeout",
    "RemoteProtocolError",
}


def _is_network(exc: BaseException) -> bool:
    """Connection refused, DNS, timeouts, dropped streams: the server was not reached (or lost)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # litellm re-wraps: walk the chain
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        names = {klass.__name__ for klass in type(current).__mro__}
        if names & _NETWORK_ERRORS or "connection error" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or getattr(exc, "headers", None) or {}
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
