"""Where and how a script failed, read from its traceback: the line, the exception, the message.

The repair loop compares these between attempts (the same line failing the same way twice means
the retry taught the model nothing) and quotes the failing line back to the model.

    parse_failure(stderr, script) -> Failure(line=12, code="styles['Title'] = ...",
                                             exc_type="KeyError", message="...")
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from promptkiln.sandbox.base import SCRIPT_PATH

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')
_EXC = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|Interrupt|Iteration))"
    r"(?::\s?(?P<msg>.*))?$"
)


@dataclass(frozen=True)
class Failure:
    """The script's own line where it failed, and the exception that ended it."""

    line: int | None  #: 1-based line in the script; None when no frame of the script was found
    code: str  #: that line's text, stripped ("" when unknown)
    exc_type: str  #: e.g. "AttributeError" ("" when stderr had no exception line)
    message: str  #: the exception's message, first line, capped

    @property
    def signature(self) -> tuple[int | None, str]:
        """What makes two failures "the same": the line and the exception type."""
        return (self.line, self.exc_type)

    def describe(self) -> str:
        where = f"line {self.line}" if self.line else "the script"
        what = f"{self.exc_type}: {self.message}" if self.exc_type else "an error"
        code = f" (`{self.code}`)" if self.code else ""
        return f"{where}{code} raised {what}"


def script_hash(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()


def parse_failure(stderr: str, script: str, *, script_path: str = SCRIPT_PATH) -> Failure | None:
    """The last frame of the script itself in the last traceback of ``stderr``, and the
    exception line after it; None when stderr holds no traceback."""
    if "Traceback (most recent call last)" not in stderr:
        return None
    block = stderr[stderr.rindex("Traceback (most recent call last)") :]
    line_no: int | None = None
    exc_type, message = "", ""
    for raw in block.splitlines():
        frame = _FRAME.match(raw)
        if frame:
            if frame.group("file") in (script_path, "<string>", "<script>") or frame.group(
                "file"
            ).endswith("/main.py"):
                line_no = int(frame.group("line"))
            continue
        if raw and not raw[0].isspace():
            match = _EXC.match(raw.strip())
            if match:
                exc_type = match.group("type").rsplit(".", 1)[-1]
                message = (match.group("msg") or "").strip()[:300]
    lines = script.splitlines()
    code = lines[line_no - 1].strip()[:200] if line_no and 0 < line_no <= len(lines) else ""
    return Failure(line_no, code, exc_type, message)
