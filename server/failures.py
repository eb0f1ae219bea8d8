"""Failures that explain themselves where there is no terminal "above": a failed API job and an
MCP tool error carry what the CLI shows for the same failure — the tail of the script's stderr
and stdout, and the line it failed on (:func:`promptkiln.making.failure.parse_failure`).

    explain_run(run, script)   -> Explanation | None   a sandbox run (``run``, an attempt of make)
    explain_attempt(attempt)   -> Explanation | None   the last attempt of a failed ``make``
    Explanation.to_json()      -> {"failing_line": {"line", "code", "exception"} | None,
                                   "stderr_tail": "...", "stdout_tail": "..."}
    error_text(error)          -> a failed job's error object as text (an MCP tool error)
    tool_error(exc, why)       -> the same for a PromptkilnError and its Explanation

The tails are the last :data:`TAIL_LINES` lines (at most :data:`TAIL_CHARS` characters) of what
the run kept under its log cap, with control and bidi characters made visible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from promptkiln.making.failure import Failure, parse_failure

#: C0 controls but \t and \n, DEL, C1 controls, bidi and zero-width characters: shown as escapes
#: (the rule of promptkiln.cli.render, which the server layer may not import).
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)


def clean_text(text: str) -> str:
    """``text`` with every control and bidi character made visible (``\\x1b``, ``\\u202e``)."""
    return _HIDDEN.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}",
        text.replace("\r\n", "\n"),
    )


TAIL_LINES = 20
TAIL_CHARS = 4000


def tail(text: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` lines of ``text``, at most ``chars`` characters, safe to show."""
    kept = "\n".join(text.rstrip("\n").splitlines()[-lines:])
    if len(kept) > chars:
        kept = "…" + kept[-(chars - 1) :]
    return clean_text(kept)


@dataclass(frozen=True)
class Explanation:
    failure: Failure | None
    stderr_tail: str
    stdout_tail: str

    def to_json(self) -> dict[str, Any]:
        line = None
        if self.failure is not None and (self.failure.line or self.failure.exc_type):
            f = self.failure
            line = {
                "line": f.line,
                "code": clean_text(f.code),
                "exception": clean_text(f"{f.exc_type}: {f.message}" if f.exc_type else ""),
            }
        return {
            "failing_line": line,
            "stderr_tail": self.stderr_tail,
            "stdout_tail": self.stdout_tail,
        }


def error_text(error: dict[str, Any]) -> str:
    """A failed job's error object (``job_error`` plus :meth:`Explanation.to_json`) as the text
    an MCP client shows: the message and hint, the failing line, the tails."""
    head = str(error.get("message") or "the job failed")
    if error.get("hint"):
        head += f" — {error['hint']}"
    lines = [head]
    where = error.get("failing_line")
    if isinstance(where, dict):
        at = f"line {where['line']}" if where.get("line") else "the script"
        code = f" (`{where['code']}`)" if where.get("code") else ""
        lines.append(f"failed at {at}{code} raised {where.get('exception') or 'an error'}")
    for label in ("stderr", "stdout"):
        body = error.get(f"{label}_tail")
        if body:
            lines += [f"--- script {label} (last lines) ---", str(body)]
    return "\n".join(lines)


def tool_error(exc: Any, why: Explanation | None) -> str:
    """An MCP tool error's text for a PromptkilnError and what the run said."""
    error: dict[str, Any] = {"message": exc.message, "hint": exc.hint}
    if why is not None:
        error.update(why.to_json())
    return error_text(error)


def explain_run(run: Any, script: str | None) -> Explanation | None:
    """What a finished sandbox run said (None when it said nothing and failed on no line)."""
    if run is None:
        return None
    stderr = run.result.stderr.text
    stdout = run.result.stdout.text
    failure = parse_failure(stderr, script or "") if stderr else None
    if not stderr.strip() and not stdout.strip() and failure is None:
        return None
    return Explanation(failure, tail(stderr), tail(stdout))


def explain_attempt(attempt: Any) -> Explanation | None:
    """The explanation of a make attempt: its run's output and its parsed failure."""
    if attempt is None or attempt.run is None:
        return None
    found = explain_run(attempt.run, attempt.script)
    if found is None or attempt.failure is None:
        return found
    return Explanation(attempt.failure, found.stderr_tail, found.stdout_tail)


__all__ = [
    "TAIL_CHARS",
    "TAIL_LINES",
    "Explanation",
    "error_text",
    "explain_attempt",
    "explain_run",
    "tail",
    "tool_error",
]
