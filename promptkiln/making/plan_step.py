"""Before the first script: profile the inputs, ask for the plan, check it, build the request.

    inputs --(sandbox)--> Profile --> [system, user] --(model, JSON schema)--> Plan
           --> check_plan(plan, profile) --(one round back to the model if wrong)-->
           [system, user, assistant (plan), user ("now the script")]  = the script request

:func:`prepare` is what :func:`promptkiln.making.make` calls; the repair loop then extends the
conversation it returns. With ``plan = false`` (``--no-plan``), or a model client that cannot
answer under a JSON schema, the request is [system, user] with the profile and no plan.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptkiln.checks.requirement import Outcome
    from promptkiln.config import Settings
    from promptkiln.llm.generate import CodeGenerator, Message
    from promptkiln.llm.plan import Planned
    from promptkiln.making.pipeline import Progress, SandboxFactory
    from promptkiln.plan import Plan, Profile
    from promptkiln.sandbox.base import InputFile


@dataclass
class Prepared:
    """The script request, and what it was built from."""

    messages: list[Message]
    profile: Profile | None = None
    #: The checked plan (column names normalised), None without one.
    plan: Plan | None = None
    #: Problems of the plan the model did not fix (the checks noted them in the request).
    problems: list[str] = field(default_factory=list)
    #: Those of them about what the data means: left unfixed, the result is unmet.
    data_problems: list[str] = field(default_factory=list)
    planned: Planned | None = None
    timings: dict[str, float] = field(default_factory=dict)


def prepare(
    prompt: str,
    formats: Sequence[str],
    inputs: Sequence[InputFile],
    settings: Settings,
    gen: CodeGenerator,
    *,
    factory: SandboxFactory | None,
    progress: Progress,
    existing_files: Sequence[str] = (),
    libraries: Sequence[str] | None = None,
    run_id: str = "profile",
) -> Prepared:
    from promptkiln.checks.plan_check import check_plan
    from promptkiln.checks.profile import render_profile
    from promptkiln.llm.plan import can_plan, describe, make_plan
    from promptkiln.llm.request_prompt import render_messages
    from promptkiln.making.profiling import profile_inputs

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    profile = profile_inputs(inputs, settings, factory=factory, progress=progress, run_id=run_id)
    if inputs:
        timings["profile_s"] = time.monotonic() - t0
    planning = settings.plan and can_plan(gen)
    if settings.plan and not planning:
        progress("plan off: this model client cannot answer under a JSON schema")
    first = render_messages(
        prompt,
        formats,
        render_profile(profile, [f.name for f in inputs]),
        templates_dir=settings.templates_dir,
        existing_files=existing_files,
        libraries=libraries,
        plan=planning,
    )
    if not planning:
        return Prepared(first, profile, timings=timings)
    t1 = time.monotonic()
    planned = make_plan(
        gen, first, lambda plan: check_plan(plan, profile, formats, prompt), progress
    )
    timings["plan_s"] = time.monotonic() - t1
    if planned.plan is None:
        progress(f"plan off: {planned.off}; writing the script without one")
    else:
        progress(f"plan ({planned.seconds:.1f} s): {describe(planned.plan)}")
        for problem in planned.problems:
            progress(f"plan problem left: {problem}")
    return Prepared(
        planned.messages,
        profile,
        planned.plan,
        planned.problems,
        planned.data_problems,
        planned,
        timings=timings,
    )


def unmet_plan(prepared: Prepared) -> list[Outcome]:
    """A failed requirement per problem of the plan about what the data means that the model
    left unfixed: the files follow that plan, so they are wrong however right they look."""
    from promptkiln.checks.requirement import Outcome, Requirement

    need = Requirement("plan", "the plan fits the inputs and the request")
    return [Outcome(need, False, problem) for problem in prepared.data_problems]
