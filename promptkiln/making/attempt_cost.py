"""What the next attempt will likely cost, in seconds, for the time budget; and how long a
script may still run within it.

A repair that extends a conversation the server has cached costs far less than the first attempt:
only its new turn (the feedback, and the answer when the cache does not hold it as written) is
evaluated, at the measured prompt speed, and the answer is generated at the measured generation
speed. Without those figures (a server that reports no timings) the slowest attempt so far is the
estimate, as before.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from promptkiln.config import Settings
from promptkiln.llm.generate import Message
from promptkiln.llm.prompts import estimate_tokens
from promptkiln.llm.timings import Timings

#: Seconds a request costs beyond its tokens (the HTTP round trip, the template, sampling set-up).
REQUEST_OVERHEAD_S = 1.0
#: The least time a script gets to run once written, however little is left of the time budget.
MIN_RUN_S = 5.0


@dataclass(frozen=True)
class Spent:
    """The last attempt: its request, its answer's timings, and the seconds it took."""

    request: Sequence[Message]  #: the messages it sent
    timings: Timings
    generation_s: float
    seconds: float  #: the whole attempt: generation, run, validation, hints


def new_prompt_tokens(last: Spent, messages: Sequence[Message], answer_cached: bool) -> int:
    """Estimated prompt tokens of ``messages`` that the server's cache does not hold after
    ``last``: those after the messages they share with ``last.request`` (and after the last
    answer, when it is shown as the server generated it)."""
    prior = list(last.request)
    common = 0
    for old, new in zip(prior, messages, strict=False):
        if old != new:
            break
        common += 1
    turn = list(messages[common:])
    if common == len(prior) and answer_cached and turn and turn[0].role == "assistant":
        turn = turn[1:]
    return sum(estimate_tokens(m.content) + 4 for m in turn)


def expected_seconds(
    last: Spent, messages: Sequence[Message], *, answer_cached: bool, slowest: float
) -> float:
    """The likely seconds of an attempt that sends ``messages`` after ``last``."""
    t = last.timings
    if not t.prompt_per_second or not t.predicted_per_second or t.cached is None:
        return slowest
    evaluate = new_prompt_tokens(last, messages, answer_cached) / t.prompt_per_second
    answer = (t.predicted or 0) / t.predicted_per_second
    running = max(0.0, last.seconds - last.generation_s)
    return REQUEST_OVERHEAD_S + evaluate + answer + running


def run_settings(settings: Settings, started: float) -> tuple[Settings, bool]:
    """The settings to run a script with, for a request that began at ``started`` (monotonic):
    its time limit cut to what is left of the time budget (at least :data:`MIN_RUN_S`), and
    whether it was cut. A script that hangs near the end of the budget would otherwise run
    for the whole time limit past it."""
    budget = settings.time_budget
    if not budget:
        return settings, False
    left = max(MIN_RUN_S, started + budget - time.monotonic())
    if left >= settings.limits.timeout:
        return settings, False
    limits = settings.limits.model_copy(update={"timeout": round(left, 1)})
    return settings.model_copy(update={"limits": limits}), True
