"""make_plan's rounds with a scripted generator (the litellm path is tested against the scripted
server in tests/integration/test_plan.py): what is sent back, when it gives up."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from promptkiln.checks.plan_check import check_plan
from promptkiln.llm.generate import Generation, Message, Sampling
from promptkiln.llm.plan import (
    ASK_PLAN,
    ASK_SCRIPT,
    PLAN_MAX_TOKENS,
    Planned,
    can_plan,
    make_plan,
    parse_plan,
    plan_schema,
)
from promptkiln.plan import Plan

GOOD = {"files": [{"name": "a.png", "title": "Units", "charts": [
    {"kind": "pie", "title": "Units", "values": {"A": 1, "B": 2}}]}]}  # fmt: skip


class Scripted:
    """A generator with the structured-output surface litellm's has, answering from a list."""

    def __init__(self, answers: list[tuple[str, str]]) -> None:
        self.answers = answers
        self.sent: list[tuple[list[Message], Sampling]] = []
        self.response_format: dict[str, object] | None = None
        self.sampling = Sampling()

    def with_sampling(self, sampling: Sampling) -> Scripted:
        clone = Scripted(self.answers)
        clone.sent, clone.sampling = self.sent, sampling
        return clone

    def generate(
        self, messages: Sequence[Message], *, on_token: Callable[[str], None] | None = None
    ) -> Generation:
        self.sent.append((list(messages), self.sampling))
        text, finish = self.answers.pop(0)
        return Generation(text, "fake", None, None, 0.1, finish)


FIRST = [Message("system", "contract"), Message("user", f"a pie chart\n\n{ASK_PLAN}")]


def plan_of(gen: Scripted) -> tuple[Planned, list[str]]:
    said: list[str] = []
    out = make_plan(gen, FIRST, lambda p: check_plan(p, None, ["png"]), said.append)
    return out, said


def test_a_valid_plan_first_time() -> None:
    gen = Scripted([(json.dumps(GOOD), "stop")])
    assert can_plan(gen)
    out, _ = plan_of(gen)
    assert out.plan == Plan.model_validate(GOOD)
    [(sent, sampling)] = gen.sent
    assert sent == FIRST
    assert sampling.response_format is not None and sampling.max_tokens == PLAN_MAX_TOKENS
    assert [m.role for m in out.messages] == ["system", "user", "assistant", "user"]
    assert out.messages[-1].content.endswith(ASK_SCRIPT)


def test_a_validation_error_goes_back_once_then_the_plan_is_off() -> None:
    gen = Scripted([('{"files": [{"name": "a.png"}]}', "stop"), ("still not", "stop")])
    out, said = plan_of(gen)
    assert out.plan is None and out.calls == 2
    retry = gen.sent[1][0][-1].content
    assert retry.startswith("That plan is not valid: files.0.title: Field required")
    assert out.off.startswith("the model's plan was not valid twice")
    # no plan: the script request is the first request without the plan's ask
    assert [m.content for m in out.messages] == ["contract", "a pie chart"]
    assert any("asking once more" in s for s in said)


def test_a_plan_cut_off_at_its_token_cap_is_not_asked_again() -> None:
    gen = Scripted([('{"files": [{"name": "a.png", "title": "U', "length")])
    out, _ = plan_of(gen)
    assert out.plan is None and out.calls == 1
    assert "longer than 400 tokens" in out.off


def test_a_worse_fix_keeps_the_first_plan_with_its_problems_noted() -> None:
    first = {"files": [dict(GOOD["files"][0], name="a.jpg")]}
    worse = {"files": [dict(GOOD["files"][0], name="a.svg", title="Title")]}
    gen = Scripted([(json.dumps(first), "stop"), (json.dumps(worse), "stop")])
    out, _ = plan_of(gen)
    assert out.plan is not None and out.plan.files[0].name == "a.jpg"
    assert out.problems and "no file in the plan is a .png; add one" in out.problems
    assert "Problems left in the plan" in out.messages[-1].content


def test_the_plan_schema_has_no_null_so_optional_keys_are_left_out() -> None:
    schema = plan_schema()
    text = json.dumps(schema)
    assert '"null"' not in text and '"default": null' not in text
    assert schema["properties"]["files"]["minItems"] == 1
    chart = schema["$defs"]["Chart"]["properties"]
    assert chart["x"] == {"title": "X", "type": "string"}
    assert chart["period"]["enum"] == ["day", "week", "month", "quarter", "year"]
    assert chart["agg"]["default"] == "none"  # a real default stays
    # what the model writes under it is still a Plan, the left-out keys at their defaults
    compact = (
        '{"files":[{"name":"a.png","title":"T","charts":[{"kind":"bar","title":"T","x":"k"}]}]}'
    )
    chart_plan = parse_plan(compact).files[0].charts[0]
    assert chart_plan.x == "k" and chart_plan.y is None and chart_plan.series is None
