"""What the model is told after a failed attempt, and how the next attempt is sampled.

A retry that repeats the failing line is not a retry. So the next request says exactly what went
wrong with the last script: the failing line, the exception, a hint from the library's real API,
and — when the same line failed the same way before, or the model sent the very same script
again — a plain instruction to change approach. Sampling moves away from temperature 0 on later
attempts, so the answer can differ.

A repair EXTENDS the conversation the model has already read (the previous messages, its answer
as it wrote it, the feedback), so a server with a prompt cache evaluates only the new turn; only
when the conversation would not fit :data:`MAX_CONVERSATION_TOKENS` do the older repair turns go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptkiln.llm.generate import Message, Sampling
from promptkiln.llm.prompts import tail
from promptkiln.making.failure import Failure

#: Temperature floor per attempt number (1-based); later attempts keep the last value.
TEMPERATURES = (0.0, 0.3, 0.6, 0.8)
#: Added to the temperature when the previous two attempts failed the same way.
STUCK_BOOST = 0.3
#: Characters of stderr passed back.
STDERR_CHARS = 1200


@dataclass(frozen=True)
class Feedback:
    """Everything the repair message says about the last attempt."""

    problem: str  #: one or two sentences
    stderr: str = ""
    failure: Failure | None = None
    hint: str | None = None
    repeated_failure: bool = False  #: the same line failed the same way in the attempt before
    files_were_valid: bool = False  #: the requested files were fine; the crash came after


def sampling_for(number: int, base_temperature: float, *, stuck: bool, seed: int) -> Sampling:
    """Sampling of attempt ``number``: the user's temperature first, then warmer."""
    floor = TEMPERATURES[min(number, len(TEMPERATURES)) - 1]
    temperature = max(base_temperature, floor) + (STUCK_BOOST if stuck else 0.0)
    return Sampling(temperature=min(round(temperature, 2), 1.2), seed=seed)


def token_budget(formats: Sequence[str], inputs: int, prompt: str, ceiling: int) -> int:
    """A max_tokens that fits the request: a chart needs far less than a 5-page report.

    Scripts for one format are 200–900 tokens; a budget past ~2× that only lets a looping
    answer run longer. ``ceiling`` (the configured max_tokens) is never exceeded.
    """
    budget = 1024 + 512 * max(1, len(formats)) + 128 * min(inputs, 4)
    words = prompt.lower()
    if any(w in words for w in ("pages", "page report", "slides", "sections", "chapters")):
        budget += 1024
    return min(ceiling, budget)


#: Estimated prompt tokens a repair conversation may grow to (the bundled model's context is 8k,
#: and the answer needs room); past it the older repair turns are dropped.
MAX_CONVERSATION_TOKENS = 4096


def as_answer(script: str | None, response: str, *, patched: bool = False) -> str:
    """The previous answer as the model should see it again.

    Its own words when the script in it is what ran (byte for byte what the server's cache holds,
    so the repair only adds the new turn); just the script when the script was patched before it
    ran (the feedback's line numbers are the patched script's), or the answer was very long."""
    if script is not None and (patched or script not in response or len(response) > 12000):
        return f"```python\n{script.rstrip()}\n```"
    if script is not None:
        return response
    return response[-4000:]


def repair_request(
    conversation: Sequence[Message],
    previous_answer: str,
    feedback: Feedback,
    *,
    base: int = 2,
    limit: int = MAX_CONVERSATION_TOKENS,
) -> list[Message]:
    """The next request: the conversation so far, the last answer, and what to fix in it.

    ``base`` is how many messages the first request had: when the whole conversation would be
    over ``limit`` estimated tokens, it becomes those, the last answer and the feedback."""
    from promptkiln.llm.prompts import estimate_tokens

    turn = [Message("assistant", previous_answer), repair_message(feedback)]
    extended = [*conversation, *turn]
    if sum(estimate_tokens(m.content) for m in extended) <= limit:
        return extended
    return [*conversation[:base], *turn]


def repair_message(fb: Feedback) -> Message:
    parts: list[str] = []
    if fb.files_were_valid:
        parts.append(
            "Your script wrote the requested files and they were fine, but then it crashed"
            + (f": {fb.failure.describe()}" if fb.failure else "")
            + ". Remove or fix the code that runs after the files are saved."
        )
    else:
        parts.append(f"That did not work: {fb.problem.strip()}")
        if fb.failure is not None and fb.failure.line:
            parts.append(f"The error is at {fb.failure.describe()}.")
    if fb.hint:
        parts.append(f"Hint: {fb.hint}")
    if fb.repeated_failure:
        parts.append(
            "This is the SAME error on the SAME line as the attempt before: your last fix did "
            "not change the cause. Do it a different way — use another function or write that "
            "part more simply — do not repeat that line."
        )
    if fb.stderr.strip() and not fb.files_were_valid:
        parts.append(f"End of stderr:\n```\n{tail(fb.stderr, STDERR_CHARS)}\n```")
    parts.append(
        "Answer with the complete corrected script in exactly one ```python block, and nothing "
        "after it."
    )
    return Message("user", "\n\n".join(parts))


def fresh_request(base: Sequence[Message], problem: str, failure: Failure | None) -> list[Message]:
    """The first request again, with a warning about the approach that already failed.

    Used when the model answered with a script it already sent: the repeated answer is NOT shown
    again (a small model copies an answer it can see, at any temperature)."""
    why = f" ({failure.describe()})" if failure else ""
    note = (
        f"\n\nNote: a script written for this request before failed: {problem.strip()}{why}. "
        "Write a new script that does it a different way."
    )
    first, *rest = base
    *head, last = [first, *rest]
    return [*head, Message(last.role, last.content + note)]


def cut_off_problem(max_tokens: int) -> str:
    return (
        f"your answer was cut off at the {max_tokens}-token limit before the script ended; write "
        "a shorter script: read data from ./inputs/ instead of typing it out, and use loops"
    )


def deadline_problem(budget: float) -> str:
    return (
        f"the script was still being written when the {budget:g} s time budget "
        "(--time-budget) ran out"
    )


def still_running_problem(budget: float) -> str:
    return f"the script was still running when the {budget:g} s time budget (--time-budget) ran out"


def loop_problem(line: str) -> str:
    return (
        "your answer kept repeating the same lines "
        + (f"(`{line[:80]}` over and over) " if line else "")
        + "and was cut off; write a shorter script that uses a loop or a list instead of "
        "repeating lines"
    )
