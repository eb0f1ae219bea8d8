"""The plan: one model call that states the request as data, before the script.

The conversation is built for the model server's prompt cache: the script request *extends* the
plan request instead of starting over::

    system     the sandbox contract, the plan note and the format notes   (same bytes for the
                                                                            same formats)
    user       the request, the inputs' profile, "First, write the plan as JSON."
    assistant  the plan (JSON)
    [user      what is wrong with it; assistant  the corrected plan]        (one round at most)
    user       "Now write the script ..." (+ the problems left, if any)

The plan is decoded under its JSON schema (``response_format`` with ``json_schema``: litellm
passes it to any provider that has structured output, llama.cpp's server compiles it into a
grammar, so even the bundled 1.5B model answers well-formed JSON), then validated by pydantic;
a validation error is sent back once. A model or client that cannot answer under a schema makes
the request go on without a plan, said in the progress line.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from promptkiln.errors import GenerationError
from promptkiln.llm.generate import Message, Sampling
from promptkiln.plan import Plan

if TYPE_CHECKING:
    from promptkiln.checks.plan_check import PlanCheck
    from promptkiln.llm.generate import CodeGenerator

#: Tokens a plan may take: a few files with a few charts each, compact. On 2 busy cores the
#: bundled model writes 3-10 tokens/s: a longer plan costs more than it can save, and is
#: cut off (then there is no plan, see make_plan).
PLAN_MAX_TOKENS = 400
#: In the system message when a plan is asked for (the same bytes for every request).
PLAN_NOTE = """\
Before the script you write a plan as JSON: the files, each with its name (with its extension), \
title, input file, charts, tables and sections.
- x, y, ys, series, group, value: input column names exactly as listed. x: the category or \
time axis; y: the values, or arithmetic of number columns when no column holds them \
(units * price); ys: several value columns instead of y (for a column per month or quarter: \
ys those columns, series the column naming each row, no x); series: the column whose \
values become separate lines or bars; a table lists its columns, or has one row per \
value of group.
- agg combines the rows that share an x (or group) value: sum, mean, count, min, max, median; \
none keeps the rows as they are; aggs: several of them of one value column (its statistics). \
period: month (or day, week, quarter, year) to count a date x or group per month; \
sort: desc (highest first) or asc only when the request asks for an order, else none; \
limit: how many to keep after sorting (the top 5).
- sections: the titles of the pages, slides or sheets, when the request names or counts them.
- With no input file, a chart's values are {label: number} from the request.
Write the JSON compactly, leaving out keys that are null or empty.
Examples over columns day, site, device, visits, minutes, units, price:
- "daily visits, a line for each site": {"kind":"line","title":"Daily visits by site",\
"x":"day","y":"visits","series":"site","agg":"sum"}
- "each device's part of all the minutes": {"kind":"pie","title":"Minutes by device",\
"x":"device","y":"minutes","agg":"sum"}
- "how many sessions came from each device": {"kind":"bar","title":"Sessions per device",\
"x":"device","agg":"count"}
- "average minutes of every site, longest first": {"kind":"bar","title":"Average minutes \
per site","x":"site","y":"minutes","agg":"mean","sort":"desc"}
- "sales (units times price) by site": {"kind":"bar","title":"Sales by site","x":"site",\
"y":"units * price","agg":"sum"}"""
ASK_PLAN = "First, write the plan as JSON."
ASK_SCRIPT = (
    "Now write the script that makes these files as planned. Answer with exactly one "
    "```python block."
)


def plan_schema() -> dict[str, Any]:
    """The JSON schema the plan is decoded under: :class:`Plan`'s, with every optional key
    left out rather than written as ``null`` (no ``null`` in it: a small model that may write
    ``"series": null`` writes it for every key, 3-5 tokens each) and at least one file."""
    schema: dict[str, Any] = _without_null(Plan.model_json_schema())
    schema["properties"]["files"]["minItems"] = 1
    return schema


def _without_null(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_null(v) for k, v in node.items() if not (k == "default" and v is None)}
    options = out.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            del out["anyOf"]
            out.update(kept[0])
        else:
            out["anyOf"] = kept
    return out


def response_format() -> dict[str, Any]:
    """OpenAI's ``response_format`` for a :class:`Plan` (non-strict: optional fields stay
    optional, and a short plan costs fewer tokens)."""
    return {"type": "json_schema", "json_schema": {"name": "plan", "schema": plan_schema()}}


def can_plan(gen: CodeGenerator) -> bool:
    """Whether the client can send a schema with the request: litellm's can; a bare fake
    generator cannot. Wrappers (a session's history) are looked through via ``.inner``."""
    inner: object = gen
    while hasattr(inner, "inner"):
        inner = inner.inner
    return callable(getattr(inner, "with_sampling", None)) and hasattr(inner, "response_format")


def describe(plan: Plan) -> str:
    """One line for the progress: each file with its parts."""
    out = []
    for f in plan.files:
        parts = []
        for c in f.charts:
            x = f"{c.x} by {c.period}" if c.x and c.period else c.x
            cols = " x ".join(n for n in (x, c.y, "+".join(c.ys)) if n) or "values"
            top = f"top {c.limit}" if c.limit else "none"
            how = ", ".join(v for v in (c.agg, c.sort, top) if v != "none")
            by = f" per {c.series}" if c.series else ""
            parts.append(f"{c.kind} {cols}{by}" + (f" ({how})" if how else ""))
        for t in f.tables:
            by = f" by {t.period}" if t.period else ""
            how = f" per {t.group}{by} ({t.agg} of {t.value})" if t.group else ""
            parts.append(f"table {', '.join(t.columns[:6])}{how}")
        if f.sections:
            parts.append(f"{len(f.sections)} sections")
        out.append(f"{f.name}" + (f": {'; '.join(parts)}" if parts else ""))
    return " | ".join(out)


@dataclass
class Planned:
    """What planning left: the plan (None when there is none), the conversation to extend."""

    plan: Plan | None
    #: [system, user, assistant (plan), ..., user (now the script)]: the script request.
    messages: list[Message]
    #: Problems of the plan that the model did not fix (noted in the script request).
    problems: list[str] = field(default_factory=list)
    #: Those of them about what the data means (see ``PlanCheck.data_problems``).
    data_problems: list[str] = field(default_factory=list)
    #: Why there is no plan, for the progress line.
    off: str | None = None
    seconds: float = 0.0
    calls: int = 0
    #: The model's answers, in order (for the run record).
    answers: list[str] = field(default_factory=list)


def parse_plan(text: str) -> Plan:
    """The plan in a model's answer: the JSON object in it (a fenced one too), validated.

    Raises ValueError (pydantic's ValidationError is one) when there is none."""
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*\n(.*?)```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the answer holds no JSON object")
    return Plan.model_validate_json(body[start : end + 1])


def _error_text(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}" for e in exc.errors()[:5]
        ]
        return "; ".join(parts)
    return str(exc).splitlines()[0][:200]


def compact(plan: Plan) -> str:
    """The plan as short JSON (defaults left out), as the model reads it again."""
    return json.dumps(plan.model_dump(exclude_defaults=True), ensure_ascii=False)


def script_request(plan: Plan, problems: Sequence[str] = ()) -> Message:
    """The last user message: the plan as code, what is still wrong in it, the ask."""
    from promptkiln.llm.plan_code import data_lines

    parts = []
    data = data_lines(plan)
    if data:
        parts.append(f"The plan as code:\n{data}")
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        parts.append(f"Problems left in the plan (avoid them in the script):\n{listed}")
    return Message("user", "\n\n".join([*parts, ASK_SCRIPT]))


def make_plan(
    gen: CodeGenerator,
    first: Sequence[Message],
    check: Callable[[Plan], PlanCheck],
    progress: Callable[[str], None],
) -> Planned:
    """Ask for the plan (``first`` = [system, user]), check it, send it back once if wrong.

    Never raises for the model's answer: a failed call or an answer that is not a plan gives
    ``Planned(plan=None, off=why)`` and the first request turned into the script request."""
    started = time.monotonic()
    messages = list(first)
    out = Planned(None, [])

    def ask(conversation: list[Message]) -> str:
        with_sampling = getattr(gen, "with_sampling")  # noqa: B009 (checked by can_plan)
        client = with_sampling(
            Sampling(temperature=0.0, max_tokens=PLAN_MAX_TOKENS, response_format=response_format())
        )
        out.calls += 1
        answer = client.generate(conversation)
        out.answers.append(answer.text)
        if answer.finish_reason == "length":  # a plan cut off: asking again costs as much
            raise GenerationError(f"the plan was longer than {PLAN_MAX_TOKENS} tokens")
        return str(answer.text)

    def finish(
        plan: Plan | None, answer: str | None, checked: PlanCheck | None, off: str | None
    ) -> Planned:
        out.plan, out.off = plan, off
        if checked is not None:
            out.problems, out.data_problems = checked.problems, checked.data_problems
        out.seconds = time.monotonic() - started
        if plan is None or answer is None:
            # no plan: the script request is the first request, without the plan's words
            system, user = first[0], first[-1]
            body = user.content.replace(f"\n\n{ASK_PLAN}", "")
            out.messages = [system, Message("user", body)]
        else:
            out.messages = [
                *messages,
                Message("assistant", answer),
                script_request(plan, out.problems),
            ]
        return out

    progress("planning the files (a JSON plan)")
    try:
        answer = ask(messages)
        try:
            plan = parse_plan(answer)
        except ValueError as exc:
            progress(f"the plan was not valid ({_error_text(exc)}); asking once more")
            messages += [
                Message("assistant", answer),
                Message(
                    "user", f"That plan is not valid: {_error_text(exc)}. Write it again as JSON."
                ),
            ]
            answer = ask(messages)
            plan = parse_plan(answer)
    except GenerationError as exc:
        return finish(
            None, None, None, f"the model could not answer with a JSON plan ({exc.message})"
        )
    except ValueError as exc:
        return finish(
            None, None, None, f"the model's plan was not valid twice ({_error_text(exc)})"
        )
    checked = check(plan)
    if checked.ok:
        return finish(checked.plan, _same_or_compact(answer, plan, checked.plan), None, None)
    progress("the plan has problems: " + "; ".join(checked.problems) + "; asking for a fix")
    listed = "\n".join(f"- {p}" for p in checked.problems)
    retry = [
        *messages,
        Message("assistant", answer),
        Message(
            "user",
            f"Fix these problems in the plan:\n{listed}\nWrite the whole plan again as JSON.",
        ),
    ]
    try:
        second = ask(retry)
        fixed = check(parse_plan(second))
    except (GenerationError, ValueError):
        return finish(checked.plan, _same_or_compact(answer, plan, checked.plan), checked, None)
    if len(fixed.problems) > len(checked.problems):  # worse: keep the first
        return finish(checked.plan, _same_or_compact(answer, plan, checked.plan), checked, None)
    messages = retry
    return finish(fixed.plan, _same_or_compact(second, parse_plan(second), fixed.plan), fixed, None)


def _same_or_compact(answer: str, parsed: Plan, checked: Plan) -> str:
    """The model's own answer when checking changed nothing (the server has it cached), else
    the normalised plan in short JSON."""
    return answer if parsed == checked else compact(checked)
