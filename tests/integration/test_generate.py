"""LiteLLMGenerator against a scripted OpenAI-compatible server: real litellm, real HTTP, no
patching. Plus the litellm exception mapper, checked against every class litellm defines."""

from __future__ import annotations

import inspect
import json
import os
import socket
from typing import Any

import pytest

from promptkiln.errors import (
    ContextOverflow,
    GenerationError,
    ModelAuthError,
    ModelNotFound,
    ModelRateLimited,
    ModelUnavailable,
)
from promptkiln.llm.generate import (
    EXCEPTION_MAP,
    MAX_RESPONSE_CHARS,
    CodeGenerator,
    Generation,
    LiteLLMGenerator,
    Message,
    Sampling,
    map_litellm_error,
)
from promptkiln.llm.json_grammar import COMPACT

from .conftest import ScriptedOpenAIServer

MESSAGES = [Message("system", "You write Python."), Message("user", "make a chart")]


def gen(server: ScriptedOpenAIServer, **kwargs: Any) -> LiteLLMGenerator:
    kwargs.setdefault("backoff_s", 0.01)
    kwargs.setdefault("timeout_s", 20)
    kwargs.setdefault("stop_early", False)  # the transport as it is; early stops: test_stream_stops
    return LiteLLMGenerator("openai/test-model", api_base=server.url, api_key="sk-test", **kwargs)


def test_streams_tokens_in_order(openai_server: ScriptedOpenAIServer) -> None:
    answer = "```python\nprint('hello')\n```\n"
    openai_server.enqueue(answer, chunk_chars=3, usage=(42, 9))
    tokens: list[str] = []
    result = gen(openai_server, temperature=0.2, max_tokens=321).generate(
        MESSAGES, on_token=tokens.append
    )
    assert isinstance(result, Generation)
    assert result.text == answer
    assert "".join(tokens) == answer
    assert len(tokens) == len(range(0, len(answer), 3)) == result.chunks
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens) == (42, 9)
    assert result.model == "openai/test-model"
    assert result.attempts == 1 and not result.truncated
    assert result.duration_s > 0
    (request,) = openai_server.history
    assert request["stream"] is True
    assert request["model"] == "test-model"
    assert request["messages"] == [m.to_dict() for m in MESSAGES]
    assert request["temperature"] == 0.2
    assert request["max_tokens"] == 321


def test_is_a_code_generator(openai_server: ScriptedOpenAIServer) -> None:
    assert isinstance(gen(openai_server), CodeGenerator)
    assert "sk-test" not in repr(gen(openai_server))


def test_extra_body_reaches_the_server(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue("ok")
    gen(openai_server, extra_body={"cache_prompt": False}).generate(MESSAGES)
    assert openai_server.history[0]["cache_prompt"] is False


def test_a_schema_goes_as_a_compact_grammar_to_a_server_that_takes_one(
    openai_server: ScriptedOpenAIServer,
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    sampling = Sampling(response_format={"type": "json_schema", "json_schema": {"schema": schema}})
    openai_server.enqueue('{"a":1}')
    openai_server.enqueue('{"a": 1}')
    extra = {"cache_prompt": True}
    gen(openai_server, json_grammar=True, extra_body=extra).with_sampling(sampling).generate(
        MESSAGES
    )
    gen(openai_server, extra_body=extra).with_sampling(sampling).generate(MESSAGES)
    bundled, other = openai_server.history
    # the bundled server: an llguidance grammar admitting only compact JSON, no response_format
    assert "response_format" not in bundled and bundled["cache_prompt"] is True
    head, _, body = bundled["grammar"].partition("%json ")
    assert head == "%llguidance {}\nstart: "
    assert json.loads(body) == {**schema, "x-guidance": COMPACT}
    # any other server: the schema as response_format, as OpenAI defines it
    assert other["response_format"]["json_schema"]["schema"] == schema and "grammar" not in other
    assert extra == {"cache_prompt": True}  # the generator's own options are not changed


def test_finish_reason_length(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue("```python\nprint(1", finish_reason="length")
    assert gen(openai_server).generate(MESSAGES).finish_reason == "length"


def test_401_is_auth_error(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_error(401, "Incorrect API key provided")
    with pytest.raises(ModelAuthError) as info:
        gen(openai_server).generate(MESSAGES)
    assert "OPENAI_API_KEY" in str(info.value)
    assert "Incorrect API key provided" in str(info.value)
    assert len(openai_server.history) == 1  # not retried
    assert info.value.__cause__ is not None


def test_unknown_model_is_not_found(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue("never sent")
    generator = LiteLLMGenerator(
        "openai/no-such-model", api_base=openai_server.url, api_key="sk-test"
    )
    with pytest.raises(ModelNotFound) as info:
        generator.generate(MESSAGES)
    assert "'openai/no-such-model'" in str(info.value)
    assert "promptkiln models" in str(info.value)
    assert len(openai_server.history) == 1


def test_400_model_not_found_is_not_found(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_error(400, "model 'qwen' not found, try pulling it first")
    with pytest.raises(ModelNotFound):
        gen(openai_server).generate(MESSAGES)


def test_other_400_is_generation_error_one_line(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_error(400, "temperature must be at most 2.\n\nbye")
    with pytest.raises(GenerationError) as info:
        gen(openai_server).generate(MESSAGES)
    assert type(info.value) is GenerationError
    assert "temperature must be at most 2. bye" in str(info.value)
    assert "\n" not in str(info.value)
    assert len(openai_server.history) == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "this model's maximum context length is 8192 tokens.\n\nbye"),
        (400, "the request exceeds the available context size, try increasing it"),
        (500, "n_ctx exceeded"),
    ],
)
def test_context_overflow_is_its_own_error(
    openai_server: ScriptedOpenAIServer, status: int, message: str
) -> None:
    """Not "the model could not be reached": the repair loop trims the history on this one."""
    openai_server.enqueue_error(status, message)
    with pytest.raises(ContextOverflow) as info:
        gen(openai_server, retries=0).generate(MESSAGES)
    assert "did not fit the context window" in str(info.value)


def test_stops_reading_at_the_closing_fence(openai_server: ScriptedOpenAIServer) -> None:
    code = "```python\nprint('hello')\n```\n"
    openai_server.enqueue(code + "This script prints hello. " * 200, chunk_chars=8)
    result = gen(openai_server, stop_early=True).generate(MESSAGES)
    assert result.stopped == "fence"
    assert result.text.startswith(code) and len(result.text) < len(code) + 16


def test_loop_is_cut_at_its_start(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue("```python\nrows = []\n" + "rows.append([1, 2, 3])\n" * 300)
    result = gen(openai_server, stop_early=True).generate(MESSAGES)
    assert result.stopped == "repetition"
    assert result.loop_line == "rows.append([1, 2, 3])"
    assert result.text == "```python\nrows = []\nrows.append([1, 2, 3])\n"


def test_500_then_success_is_retried(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_error(500, "overloaded")
    openai_server.enqueue_error(503, "still overloaded")
    openai_server.enqueue("fine")
    result = gen(openai_server, retries=2).generate(MESSAGES)
    assert result.text == "fine"
    assert result.attempts == 3
    assert len(openai_server.history) == 3


def test_retries_are_bounded(openai_server: ScriptedOpenAIServer) -> None:
    for _ in range(5):
        openai_server.enqueue_error(502, "bad gateway")
    with pytest.raises(ModelUnavailable) as info:
        gen(openai_server, retries=1).generate(MESSAGES)
    assert len(openai_server.history) == 2
    assert "bad gateway" in str(info.value)


def test_rate_limit_is_retried_then_reported(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_error(429, "slow down", headers={"Retry-After": "0"})
    openai_server.enqueue_error(429, "slow down", headers={"Retry-After": "0"})
    with pytest.raises(ModelRateLimited):
        gen(openai_server, retries=1).generate(MESSAGES)
    assert len(openai_server.history) == 2


def test_server_down_is_unavailable_with_api_base() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api_base = f"http://127.0.0.1:{port}/v1"
    generator = LiteLLMGenerator(
        "openai/test-model", api_base=api_base, api_key="sk-test", retries=1, backoff_s=0.01
    )
    with pytest.raises(ModelUnavailable) as info:
        generator.generate(MESSAGES)
    assert f"cannot reach the model server at {api_base}: is it running?" in str(info.value)


def test_slow_server_times_out(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_slow("late", delay_s=5)
    with pytest.raises(ModelUnavailable):
        gen(openai_server, timeout_s=0.5, retries=0).generate(MESSAGES)


def test_huge_response_is_capped(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_huge(2 * MAX_RESPONSE_CHARS + 123)
    seen = [0]

    def count(piece: str) -> None:
        seen[0] += len(piece)

    result = gen(openai_server).generate(MESSAGES, on_token=count)
    assert result.truncated
    assert len(result.text) == MAX_RESPONSE_CHARS
    assert seen[0] <= MAX_RESPONSE_CHARS


def test_garbage_body_is_generation_error(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_raw(b"<html><body>502 proxy says no</body></html>", status=200)
    with pytest.raises(GenerationError) as info:
        gen(openai_server, retries=0).generate(MESSAGES)
    assert "\n" not in str(info.value)


def test_empty_answer_is_generation_error(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue("")
    with pytest.raises(GenerationError, match="empty answer"):
        gen(openai_server).generate(MESSAGES)
    openai_server.enqueue("", finish_reason="length")
    with pytest.raises(GenerationError, match="max-tokens"):
        gen(openai_server).generate(MESSAGES)


def test_garbage_error_status_is_generation_error(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.enqueue_raw(b"\x00\xff not json", status=418, content_type="text/plain")
    with pytest.raises(GenerationError):
        gen(openai_server, retries=0).generate(MESSAGES)


def test_connection_dropped_mid_stream_is_not_retried(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.enqueue_drop("```python\nprint(")
    openai_server.enqueue("should not be requested")
    tokens: list[str] = []
    with pytest.raises(GenerationError):
        gen(openai_server, retries=3).generate(MESSAGES, on_token=tokens.append)
    assert "".join(tokens) == "```python\nprint("
    assert len(openai_server.history) == 1  # a half-streamed answer is never replayed


def test_key_from_environment(
    openai_server: ScriptedOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    openai_server.enqueue("ok")
    generator = LiteLLMGenerator("openai/test-model", api_base=openai_server.url)
    assert generator.generate(MESSAGES).text == "ok"


def test_models_endpoint(openai_server: ScriptedOpenAIServer) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{openai_server.url}/models", timeout=5) as response:
        data = json.load(response)
    assert [m["id"] for m in data["data"]] == ["test-model"]


def test_litellm_prints_nothing(
    openai_server: ScriptedOpenAIServer, capfd: pytest.CaptureFixture[str]
) -> None:
    openai_server.enqueue_error(401, "nope")
    openai_server.enqueue("ok")
    with pytest.raises(ModelAuthError):
        gen(openai_server).generate(MESSAGES)
    gen(openai_server).generate(MESSAGES)
    out, err = capfd.readouterr()
    assert "Give Feedback" not in out + err
    assert "LiteLLM" not in out + err


# -- the mapper, against every exception class litellm defines ----------------------------------


def _litellm_exception_classes() -> list[type[BaseException]]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm.exceptions

    return [
        klass
        for _, klass in inspect.getmembers(litellm.exceptions, inspect.isclass)
        if issubclass(klass, BaseException) and klass.__module__.startswith("litellm")
    ]


def _construct(klass: type[BaseException]) -> BaseException:
    """An instance of any litellm exception, whatever its constructor wants."""
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    values: dict[str, Any] = {
        "message": f"{klass.__name__} happened",
        "model": "test-model",
        "llm_provider": "openai",
        "status_code": 500,
        "request": request,
        "response": httpx.Response(500, request=request),
        "current_cost": 2.0,
        "max_budget": 1.0,
        "entity_type": "x",
        "custom_llm_provider": "openai",
        "request_data": {},
        "raw_response": "{}",
        "schema": "{}",
        "failures": [],
        "route_to_model": "m",
        "session_id": "s",
    }
    params = inspect.signature(klass.__init__).parameters
    kwargs = {
        name: values[name]
        for name, p in params.items()
        if name != "self"
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and name in values
        and (p.default is p.empty or name in ("message", "response"))
    }
    try:
        return klass(**kwargs)
    except TypeError:
        return klass.__new__(klass)


EXPECTED = {
    "AuthenticationError": ModelAuthError,
    "PermissionDeniedError": ModelAuthError,
    "NotFoundError": ModelNotFound,
    "RateLimitError": ModelRateLimited,
    "APIConnectionError": ModelUnavailable,
    "Timeout": ModelUnavailable,
    "ServiceUnavailableError": ModelUnavailable,
    "InternalServerError": ModelUnavailable,
    "BadGatewayError": ModelUnavailable,
}


@pytest.mark.parametrize("klass", _litellm_exception_classes(), ids=lambda k: k.__name__)
def test_every_litellm_exception_is_mapped(klass: type[BaseException]) -> None:
    assert klass.__name__ in EXCEPTION_MAP, (
        f"litellm.exceptions.{klass.__name__} is not in EXCEPTION_MAP: decide what it means"
    )
    exc = _construct(klass)
    mapped = map_litellm_error(exc, model="openai/test-model", api_base="http://h:1/v1")
    assert isinstance(mapped, GenerationError)
    assert "\n" not in str(mapped)
    if klass.__name__ in EXPECTED:
        assert type(mapped) is EXPECTED[klass.__name__]


def test_map_has_no_stale_names() -> None:
    names = {k.__name__ for k in _litellm_exception_classes()}
    assert set(EXCEPTION_MAP) <= names


def test_non_litellm_exception_is_generation_error() -> None:
    mapped = map_litellm_error(ValueError("bad\njson"), model="m")
    assert type(mapped) is GenerationError
    assert "bad json" in str(mapped)
