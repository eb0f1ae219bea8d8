"""A closing bracket of the wrong kind, fixed before asking the model again.

``story.append(Paragraph("…", styles["Normal"])]`` is a typical slip of a small model: one
line, one wrong closer. It makes the whole answer unusable ("the Python block does not parse"),
and the next attempt often repeats it. :func:`fix_brackets` replaces a closer that Python reports
as not matching its opener (``closing parenthesis ']' does not match opening parenthesis '('``)
with the right one, and keeps the result only if the whole script then parses. Nothing else is
guessed: an unclosed bracket or any other syntax error is left to the model.
"""

from __future__ import annotations

import ast
import re
import warnings

_MISMATCH = re.compile(
    r"closing parenthesis '(?P<close>[)\]}])' does not match opening parenthesis '(?P<open>[(\[{])'"
)
_CLOSER = {"(": ")", "[": "]", "{": "}"}
MAX_FIXES = 3


def fix_brackets(code: str) -> tuple[str, list[str]] | None:
    """``(fixed code, what was changed)`` when wrong closing brackets were all there was to
    fix; None otherwise."""
    fixes: list[str] = []
    for _ in range(MAX_FIXES + 1):
        error = _syntax_error(code)
        if error is None:
            return (code, fixes) if fixes else None
        m = _MISMATCH.search(error.msg or "")
        if m is None or not error.lineno or not error.offset or len(fixes) == MAX_FIXES:
            return None
        lines = code.split("\n")
        line = lines[error.lineno - 1]
        col = error.offset - 1  # 1-based column of the wrong closer
        if col >= len(line) or line[col] != m.group("close"):
            return None
        right = _CLOSER[m.group("open")]
        lines[error.lineno - 1] = line[:col] + right + line[col + 1 :]
        code = "\n".join(lines)
        fixes.append(
            f"line {error.lineno}: closed {m.group('open')} with {right!r}, not {m.group('close')!r}"
        )
    return None


def _syntax_error(code: str) -> SyntaxError | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(code)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError):
        return SyntaxError("unparseable")
    return None
