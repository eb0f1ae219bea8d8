"""The script in a model's answer, for one attempt: extracted, or its brackets fixed.

:func:`script_of` is what the repair loop calls on each answer; it records on the attempt why
there is no script (a looping or oversized answer, no usable code block) or what it fixed.
:func:`fixed_before_running` applies the deterministic fixes to the script it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptkiln.errors import ExtractionError

if TYPE_CHECKING:
    from promptkiln.llm.generate import Generation
    from promptkiln.making.attempt import Attempt
    from promptkiln.making.pipeline import Progress
    from promptkiln.plan import Plan


def script_of(generation: Generation, attempt: Attempt, progress: Progress) -> str | None:
    """The answer's script, or None with ``attempt.problem`` saying why there is none."""
    from promptkiln.llm.extract import extract

    try:
        if generation.truncated:
            raise ExtractionError(
                "response_too_large",
                "the answer was longer than the 1 MB that is read, and was cut off",
            )
        if generation.stopped == "repetition":
            attempt.problem = "the answer was looping"
            return None
        return extract(generation.text).code
    except ExtractionError as exc:
        fixed = _fix_syntax(exc, attempt, progress)
        if fixed is not None:
            return fixed
        attempt.problem = f"no usable script in the answer: {exc.message}"
        return None


def _fix_syntax(exc: ExtractionError, attempt: Attempt, progress: Progress) -> str | None:
    """A script whose only syntax errors were wrong closing brackets, fixed."""
    from promptkiln.making.autofix.syntax import fix_brackets

    if exc.kind != "syntax_error" or exc.source is None:
        return None
    fixed = fix_brackets(exc.source)
    if fixed is None:
        return None
    attempt.fixes.extend(fixed[1])
    progress("fixed before running: " + "; ".join(fixed[1]))
    return fixed[0]


def fixed_before_running(
    script: str,
    attempt: Attempt,
    progress: Progress,
    size: tuple[int | None, int | None] | None,
    plan: Plan | None,
) -> str:
    """The script with its certain mistakes fixed (:mod:`promptkiln.making.autofix.patch`),
    each fix recorded on the attempt and said."""
    from promptkiln.llm.plan_code import note_names
    from promptkiln.making.autofix.patch import patch

    patched = patch(script, size=size, planned=note_names(plan))
    if patched.fixes:
        script = attempt.script = patched.script
        attempt.fixes += patched.fixes
        progress("fixed before running: " + "; ".join(patched.fixes))
    return script
