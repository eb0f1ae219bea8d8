"""The time budget prices the next attempt: a cached repair costs its new tokens, not a re-read."""

from __future__ import annotations

from types import SimpleNamespace

from promptkiln.llm.generate import Message
from promptkiln.llm.timings import Timings
from promptkiln.making.attempt_cost import Spent, expected_seconds, new_prompt_tokens

FIRST = [Message("system", "s" * 4000), Message("user", "u" * 400)]
ANSWER = Message("assistant", "```python\n" + "x = 1\n" * 100 + "```")
REPAIR = [*FIRST, ANSWER, Message("user", "That did not work: " + "e" * 200)]
MEASURED = Timings(cached=0, evaluated=1100, prompt_per_second=20.0, predicted=300,
                   predicted_per_second=10.0)  # fmt: skip


def test_a_repair_that_extends_the_cached_conversation_costs_its_new_turn() -> None:
    last = Spent(FIRST, MEASURED, generation_s=85.0, seconds=95.0)
    assert new_prompt_tokens(last, REPAIR, answer_cached=True) < 80
    repair = expected_seconds(last, REPAIR, answer_cached=True, slowest=95.0)
    # ~60 new tokens at 20/s, 300 answer tokens at 10/s, 10 s of sandbox and checks
    assert 40 < repair < 50
    other = [Message("system", "t" * 4000), FIRST[1]]  # another prefix: all of it is read again
    assert expected_seconds(last, other, answer_cached=True, slowest=95.0) > repair + 50
    shown_again = new_prompt_tokens(last, REPAIR, answer_cached=False)  # a patched script
    assert shown_again > new_prompt_tokens(last, REPAIR, answer_cached=True) + 100


def test_without_the_servers_figures_the_slowest_attempt_is_the_estimate() -> None:
    last = Spent(FIRST, Timings(), generation_s=85.0, seconds=95.0)
    assert expected_seconds(last, REPAIR, answer_cached=True, slowest=120.0) == 120.0


def test_timings_come_from_llama_cpp_chunks_or_openai_usage() -> None:
    chunk = SimpleNamespace(timings={"cache_n": 900, "prompt_n": 100, "prompt_per_second": 30.5,
                                     "predicted_n": 12, "predicted_per_second": 9.0})  # fmt: skip
    t = Timings().merge(chunk)
    assert (t.cached, t.evaluated, t.prompt, t.predicted) == (900, 100, 1000, 12)
    assert t.reused == 0.9 and "1,000 prompt tokens, 900 reused from cache" in t.describe()
    details = SimpleNamespace(cached_tokens=512)
    usage = SimpleNamespace(prompt_tokens=600, prompt_tokens_details=details)
    t = Timings().merge(SimpleNamespace(timings=None, usage=usage))
    assert (t.cached, t.evaluated) == (512, 88)
    assert Timings().merge(SimpleNamespace(timings={"cache_n": "x"})) == Timings()
