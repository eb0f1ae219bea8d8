"""How a make/continue result reports its quality: requirements met, warnings, each attempt.

Shared by ``make`` and ``continue``: :func:`quality_json` for ``--json``, :func:`print_quality`
for people (on stderr, after the file table).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptkiln.cli.render import clean_line, say

KeepValidOpt = Annotated[
    bool,
    typer.Option(
        "--keep-valid-on-crash",
        help="If every attempt fails, deliver files that opened fine although the script "
        "crashed after writing them (with a warning).",
    ),
]


AcceptUnmetOpt = Annotated[
    bool,
    typer.Option(
        "--accept-unmet",
        help="Deliver files that fail a requirement or content check anyway (with warnings, "
        "exit 0). Default: they are kept in the session, not written to --out, exit 3.",
    ),
]


CandidatesOpt = Annotated[
    int | None,
    typer.Option(
        "--candidates",
        min=1,
        max=8,
        help="Sample N scripts for the first attempt and keep the first that succeeds "
        "(or repair the one that got furthest). Costs up to N generations.",
    ),
]

ModelRequirementsOpt = Annotated[
    bool,
    typer.Option(
        "--model-requirements",
        help="Also ask the model which exact words (names, titles, dates) the files must hold; "
        "one short extra call.",
    ),
]
NoPlanOpt = Annotated[
    bool,
    typer.Option(
        "--no-plan",
        help="Skip the plan: the model writes the script without first stating the files, "
        "charts, columns and aggregation as JSON (config: plan = false).",
    ),
]
TimeBudgetOpt = Annotated[
    float | None,
    typer.Option(
        "--time-budget",
        min=0,
        help="Seconds the attempts may take (default 180): a repair that would run past it is "
        "not started, and an answer still being written when it ends is cut there. 0: no budget.",
    ),
]


def quality_json(result: Any) -> dict[str, Any]:
    return {
        "status": getattr(result, "status", "ok"),
        "checks": [o.to_dict() for o in result.requirements if not o.met],
        "requirements": [o.to_dict() for o in result.requirements],
        "warnings": list(result.warnings),
        "attempt_details": [a.to_dict() for a in result.attempts],
        "plan": _dump(getattr(result, "plan", None)),
        "profile": _dump(getattr(result, "profile", None)),
    }


def _dump(model: Any) -> Any:
    """A pydantic model (the plan, the profile) as JSON-ready data, or None."""
    return None if model is None else model.model_dump(exclude_defaults=True)


def print_quality(result: Any) -> None:
    for outcome in result.requirements:
        mark = "met    " if outcome.met else "NOT MET"
        detail = (
            f" ({clean_line(outcome.detail, 160)})" if not outcome.met and outcome.detail else ""
        )
        say(f"requirement {mark} {clean_line(outcome.requirement.text, 160)}{detail}")
    for warning in result.warnings:
        say(f"warning: {clean_line(warning, 300)}")
    if len(result.attempts) > 1:
        say(
            "attempts: "
            + ", ".join(
                f"#{a.number}{f'.{a.candidate}' if a.candidate else ''} {a.seconds:.1f}s "
                f"{'ok' if a.problem is None else 'failed'}"
                for a in result.attempts
            )
        )


def raise_if_unmet(result: Any, settings: Any, session: str | None) -> None:
    """Exit :data:`~promptkiln.errors.EXIT_UNMET`, naming each failed check, when the files
    fail a check and were therefore not delivered (no ``--accept-unmet``)."""
    from promptkiln.errors import Unmet

    if getattr(result, "status", "ok") != "unmet" or settings.accept_unmet:
        return
    checks = [
        f"{o.requirement.text}: {o.detail}" if o.detail else o.requirement.text
        for o in result.requirements
        if not o.met
    ]
    raise Unmet([clean_line(c, 300) for c in checks], session=session)
