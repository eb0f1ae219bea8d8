"""The bundled model's KV cache: a repair, and a request after a restart, reuse the prompt's
prefix (the real model, the real llama.cpp server, real litellm)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptkiln.config import Settings, load_settings
from promptkiln.llm import local
from promptkiln.llm.generate import LiteLLMGenerator
from promptkiln.llm.request_prompt import render_messages
from promptkiln.making.repair import Feedback, as_answer, repair_request

pytestmark = pytest.mark.slow

pytest.importorskip("xllamacpp", reason="needs the [local] extra: pip install 'promptkiln[local]'")


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = load_settings().model_copy(update={"home": tmp_path / "home", "model": None})
    try:
        yield settings
    finally:
        local.stop_server(settings.home)


def generator(settings: Settings) -> LiteLLMGenerator:
    params = local.local_model_params(settings)
    return LiteLLMGenerator(
        params["model"], api_base=params["api_base"], api_key=params["api_key"],
        extra_body=params["extra_body"], max_tokens=48, timeout_s=600,
    )  # fmt: skip


def test_a_repair_and_a_restarted_server_reuse_the_cached_prompt(settings: Settings) -> None:
    gen = generator(settings)
    first = render_messages("A bar chart of revenue: Q1 2.1, Q2 2.8", ["png"])
    answer = gen.generate(first)
    assert answer.timings.evaluated is not None and answer.timings.evaluated > 200

    repair = repair_request(first, as_answer(None, answer.text), Feedback("it exited with 1"))
    fixed = gen.generate(repair)
    cached, evaluated = fixed.timings.cached, fixed.timings.evaluated
    print(f"repair: {fixed.timings.describe()}")
    assert cached is not None and evaluated is not None
    assert cached > 0 and cached > 4 * evaluated  # the first request and its answer were reused

    # the slot was saved to disk; a new server restores it for the next request of the format
    local.stop_server(settings.home)
    kv = list((settings.home / "run" / "kv").glob("*/prefix-*.bin"))
    assert kv, "no slot file was saved"
    gen = generator(settings)
    other = gen.generate(render_messages("A pie chart of shares: A 40, B 60", ["png"]))
    print(f"after restart: {other.timings.describe()}")
    assert other.timings.cached is not None and other.timings.cached > 200
