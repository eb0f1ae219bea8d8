"""Making untrusted text safe to print: nothing from a sandbox or a model reaches a terminal raw.

Escape sequences (ESC, CSI), BEL, other C0 and C1 controls, DEL, and Unicode format characters
(bidi overrides and isolates, zero-width characters) are shown as visible escapes like ``\\x1b``
or ``\\u202e``. Newlines and tabs survive in multi-line text.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import TextIO

_BAD = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f"  # C0 controls except \t and \n, and DEL
    "\x80-\x9f"  # C1 controls (CSI as a single character among them)
    "\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"  # bidi, zero-width
    "]"
)


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(text: str) -> str:
    """Multi-line text with every dangerous character made visible; \\n and \\t kept."""
    text = text.replace("\r\n", "\n")
    text = _BAD.sub(_escape, text)
    # Anything else of category Cf/Cc/Cs/Co that slipped the fast path (rare).
    if any(unicodedata.category(c) in ("Cf", "Cc", "Cs", "Co") and c not in "\n\t" for c in text):
        text = "".join(
            c
            if c in "\n\t" or unicodedata.category(c) not in ("Cf", "Cc", "Cs", "Co")
            else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
            for c in text
        )
    return text


def clean_line(text: str, limit: int = 300) -> str:
    """One line: like :func:`clean_text`, with newlines and tabs escaped too, and shortened."""
    out = clean_text(text).replace("\n", "\\n").replace("\t", "\\t")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def say(message: str, *, stream: TextIO | None = None) -> None:
    """Print one progress or status line to stderr (stdout stays clean for --json). One write
    of the line with its newline, so ``--live`` output from another thread never lands inside."""
    out = stream or sys.stderr
    out.write(message + "\n")
    out.flush()
