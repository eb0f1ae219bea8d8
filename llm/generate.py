"""The code writer's transport: send chat messages to any model litellm can reach, stream the answer.

:class:`CodeGenerator` is the one-method interface the pipeline depends on (a test passes a fake);
:class:`LiteLLMGenerator` is the real one, over ``litellm.completion(..., stream=True)``.

Errors: every litellm exception is translated at this boundary by :func:`map_litellm_error`
into the :class:`~promptkiln.errors.GenerationError` tree, with a message that says what to do::

    AuthenticationError, PermissionDeniedError            -> ModelAuthError
    NotFoundError, LiteLLMUnknownProvider                 -> ModelNotFound
    RateLimitError, BudgetExceededError                   -> ModelRateLimited
    APIConnectionError, Timeout, ServiceUnavailableError,
    InternalServerError, BadGatewayError                  -> ModelUnavailable
    anything else                                         -> GenerationError (provider's message)

Transient failures (:data:`RETRYABLE`) are retried with bounded exponential backoff, but only
while nothing has been streamed to ``on_token`` yet: a half-streamed answer is never replayed.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from promptkiln.errors import GenerationError, ModelRateLimited, ModelUnavailable
from promptkiln.llm.errormap import EXCEPTION_MAP, _retry_after, map_litellm_error, one_line
from promptkiln.llm.stream_chunks import close_stream, iterate, read_chunk
from promptkiln.llm.stream_guard import StreamGuard
from promptkiln.llm.timings import Timings

#: Characters of response kept; past this the stream is abandoned and ``truncated`` is set.
MAX_RESPONSE_CHARS = 1_000_000
#: Longest wait between retries, in seconds (a server's ``Retry-After`` is capped to this).
MAX_BACKOFF_S = 30.0

#: The errors worth another try: the server or the network was the problem, not the request.
RETRYABLE: tuple[type[GenerationError], ...] = (ModelUnavailable, ModelRateLimited)


@dataclass(frozen=True)
class Message:
    """One chat message. ``role`` is ``"system"``, ``"user"`` or ``"assistant"``."""

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Generation:
    """A model's complete answer and how it went."""

    text: str
    model: str
    prompt_tokens: int | None  #: as reported by the server; None if it did not say
    completion_tokens: int | None  #: as reported by the server; None if it did not say
    duration_s: float  #: seconds from the request to the last byte, retries included
    finish_reason: str | None  #: "stop", "length", ... as the server said
    #: True when the answer was longer than :data:`MAX_RESPONSE_CHARS` and was cut there;
    #: the pipeline should treat it as ``response_too_large``, not try to run it.
    truncated: bool = False
    #: Content pieces received (roughly tokens, when the server did not report usage).
    chunks: int = 0
    #: Requests made, 1 when the first one worked.
    attempts: int = 1
    #: Why reading stopped before the server finished: ``"fence"`` (the python block closed;
    #: the rest would not be used), ``"repetition"`` (the answer was looping and was cut) or
    #: ``"deadline"`` (:attr:`Sampling.deadline` passed).
    stopped: str | None = None
    #: With ``stopped == "repetition"``: one line of the loop, for the repair message.
    loop_line: str = ""
    #: Prompt tokens reused from the server's cache, speeds, time to first token (what is known).
    timings: Timings = field(default_factory=Timings)


@dataclass(frozen=True)
class Sampling:
    """Per-request overrides of a generator's sampling; None keeps the generator's own value."""

    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    #: OpenAI's ``response_format`` (``{"type": "json_schema", ...}``): the answer is decoded
    #: under that schema (llama.cpp's server turns it into a grammar). The answer is then
    #: JSON, so reading it does not stop at a code fence or on repeated lines.
    response_format: dict[str, Any] | None = None
    #: ``time.monotonic()`` past which reading stops (the request's time budget is spent): the
    #: answer so far comes back with ``stopped == "deadline"``.
    deadline: float | None = None


@runtime_checkable
class CodeGenerator(Protocol):
    """Anything that turns chat messages into a model's answer."""

    def generate(
        self, messages: Sequence[Message], *, on_token: Callable[[str], None] | None = None
    ) -> Generation:
        """Return the whole answer; call ``on_token`` with each piece as it arrives.

        Raises a :class:`~promptkiln.errors.GenerationError` subclass.
        """
        ...


# -- litellm, imported lazily -------------------------------------------------------------------


def _litellm() -> Any:
    """Import litellm quietly: bundled cost map, no banners, its loggers at WARNING."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


# -- the generator ------------------------------------------------------------------------------


class LiteLLMGenerator:
    """A :class:`CodeGenerator` over litellm: any provider, or an OpenAI-compatible server.

    ``model`` is a litellm model string (``"openai/gpt-4o-mini"``, ``"ollama/qwen2.5-coder"``,
    ``"openai/<name>"`` with ``api_base`` for any OpenAI-compatible server). ``api_key`` wins over
    the provider's usual environment variable, which litellm reads when it is None.
    ``timeout_s`` bounds each request in **seconds**; ``retries`` is how many extra tries a
    transient failure gets; ``backoff_s`` is the first wait between them (doubling, capped at
    :data:`MAX_BACKOFF_S`). ``extra_body`` is merged into the request JSON (server-specific
    options, e.g. ``{"cache_prompt": False}`` for llama.cpp).
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 4096,
        timeout_s: float = 600,
        retries: int = 2,
        backoff_s: float = 1.0,
        extra_body: dict[str, Any] | None = None,
        seed: int | None = None,
        stop_early: bool = True,
        json_grammar: bool = False,
    ) -> None:
        if not model:
            raise ValueError("model must be a litellm model string, e.g. 'openai/gpt-4o-mini'")
        self.model = model
        self.api_base = api_base
        self._api_key = api_key
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff_s = max(0.0, backoff_s)
        self.extra_body = dict(extra_body or {})
        self.seed = seed
        #: Stop reading once the python block has closed, or when the answer loops.
        self.stop_early = stop_early
        #: Sent as ``response_format`` when set (see :class:`Sampling`).
        self.response_format: dict[str, Any] | None = None
        #: The server (the bundled one) takes a schema as a grammar for compact JSON.
        self.json_grammar = json_grammar
        #: See :attr:`Sampling.deadline`.
        self.deadline: float | None = None

    def with_sampling(self, sampling: Sampling) -> LiteLLMGenerator:
        """A copy of this generator with ``sampling``'s values in place of its own."""
        clone = copy.copy(self)
        clone.extra_body = dict(self.extra_body)
        if sampling.temperature is not None:
            clone.temperature = sampling.temperature
        if sampling.seed is not None:
            clone.seed = sampling.seed
        if sampling.max_tokens is not None:
            clone.max_tokens = sampling.max_tokens
        if sampling.response_format is not None:
            clone.response_format = dict(sampling.response_format)
            clone.stop_early = False
        if sampling.deadline is not None:
            clone.deadline = sampling.deadline
        return clone

    def __repr__(self) -> str:  # never show the key
        return f"LiteLLMGenerator(model={self.model!r}, api_base={self.api_base!r})"

    def generate(
        self, messages: Sequence[Message], *, on_token: Callable[[str], None] | None = None
    ) -> Generation:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            streamed = [0]  # pieces already handed to on_token in this attempt
            try:
                result = self._once(messages, on_token, streamed)
            except GenerationError as exc:
                if not isinstance(exc, RETRYABLE) or streamed[0] > 0 or attempt > self.retries:
                    raise
                cause = exc.__cause__
                wait = min(MAX_BACKOFF_S, self.backoff_s * 2 ** (attempt - 1))
                hinted = _retry_after(cause) if cause is not None else None
                if hinted is not None:
                    wait = min(MAX_BACKOFF_S, max(wait, hinted))
                time.sleep(wait * (1 + random.random() * 0.1))
                continue
            text, finish, usage, chunks, truncated, guard, timings = result
            if guard.stop == "repetition" and guard.keep_chars is not None:
                text = text[: guard.keep_chars]
            return Generation(
                text=text,
                model=self.model,
                prompt_tokens=usage[0],
                completion_tokens=usage[1],
                duration_s=time.monotonic() - started,
                finish_reason=finish,
                truncated=truncated,
                chunks=chunks,
                attempts=attempt,
                stopped=guard.stop,
                loop_line=guard.loop_line,
                timings=timings,
            )

    def _request(self, messages: Sequence[Message]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "stream": True,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout_s,
            "max_retries": 0,  # retries are ours: the SDK's own would replay half streams
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if self.seed is not None:
            kwargs["seed"] = self.seed
        extra_body = dict(self.extra_body)
        grammar = None
        if self.response_format is not None and self.json_grammar:
            from promptkiln.llm.json_grammar import compact_grammar

            grammar = compact_grammar(self.response_format["json_schema"]["schema"])
        if grammar is not None:
            extra_body["grammar"] = grammar
        elif self.response_format is not None:
            kwargs["response_format"] = self.response_format
        if extra_body:
            kwargs["extra_body"] = extra_body
        if _supports_stream_usage(self.model):
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    def _once(
        self,
        messages: Sequence[Message],
        on_token: Callable[[str], None] | None,
        streamed: list[int],
    ) -> tuple[str, str | None, tuple[int | None, int | None], int, bool, StreamGuard, Timings]:
        with warnings.catch_warnings():
            # litellm's lazy imports and response models trip pydantic UserWarnings (ReadOnly
            # TypedDicts, serializer warnings) that would print to the user's terminal.
            warnings.simplefilter("ignore")
            return self._stream(messages, on_token, streamed)

    def _stream(
        self,
        messages: Sequence[Message],
        on_token: Callable[[str], None] | None,
        streamed: list[int],
    ) -> tuple[str, str | None, tuple[int | None, int | None], int, bool, StreamGuard, Timings]:
        litellm = _litellm()
        started = time.monotonic()
        timings = Timings()
        parts: list[str] = []
        size = 0
        finish: str | None = None
        usage: tuple[int | None, int | None] = (None, None)
        truncated = False
        guard = StreamGuard(stop_at_fence=self.stop_early, detect_loops=self.stop_early)
        stream: Any = None
        try:
            stream = litellm.completion(**self._request(messages))
            for chunk in iterate(stream):
                piece, chunk_finish, chunk_usage = read_chunk(chunk)
                timings = timings.merge(chunk)
                if chunk_usage != (None, None):
                    usage = chunk_usage
                if chunk_finish:
                    finish = chunk_finish
                if not piece:
                    continue
                if size + len(piece) > MAX_RESPONSE_CHARS:
                    parts.append(piece[: MAX_RESPONSE_CHARS - size])
                    truncated = True
                    break
                if not parts:
                    timings = replace(timings, first_token_s=time.monotonic() - started)
                parts.append(piece)
                size += len(piece)
                streamed[0] += 1
                if on_token is not None:
                    on_token(piece)
                if guard.feed(piece):
                    break  # the rest would not be used (see StreamGuard)
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    guard.stop = "deadline"
                    break
        except GenerationError:
            raise
        except Exception as exc:  # the boundary: everything from litellm/openai/httpx
            raise map_litellm_error(exc, model=self.model, api_base=self.api_base) from exc
        finally:
            close_stream(stream)
        if not parts:  # nothing at all: a non-OpenAI endpoint, or all tokens spent elsewhere
            where = f"the model server at {self.api_base}" if self.api_base else self.model
            if finish == "length":
                raise GenerationError(
                    f"{self.model} used all {self.max_tokens} tokens without answering",
                    hint="raise --max-tokens (reasoning models spend tokens before answering)",
                )
            raise GenerationError(
                f"{where} returned an empty answer",
                hint="check that --api-base points at an OpenAI-compatible /v1 endpoint "
                "and that the model name is right",
            )
        return "".join(parts), finish, usage, streamed[0], truncated, guard, timings


def _supports_stream_usage(model: str) -> bool:
    """Whether litellm forwards ``stream_options`` for this provider (the usage in the last
    chunk); sending it to one that does not would be an UnsupportedParamsError."""
    litellm = _litellm()
    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
        params = litellm.get_supported_openai_params(model=name, custom_llm_provider=provider)
    except Exception:  # unknown provider: let completion() report it properly
        return False
    return bool(params) and "stream_options" in params


__all__ = [
    "EXCEPTION_MAP",
    "MAX_RESPONSE_CHARS",
    "CodeGenerator",
    "Generation",
    "LiteLLMGenerator",
    "Message",
    "Sampling",
    "map_litellm_error",
    "one_line",
]
