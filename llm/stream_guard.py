"""Watch a streamed answer and say when to stop reading it.

Two reasons to stop early, both decided from the text alone:

* ``"fence"``: the ```python block has closed. Whatever the model writes after it (an explanation,
  usage notes) is never used, and at a few tokens per second on a small local model it costs
  seconds to minutes.
* ``"repetition"``: the answer is looping — the same block of lines over and over, or the same
  shape of line with only the numbers changing. Small models at temperature 0 do this on long
  documents until the token cap; cutting it off early turns minutes of waste into a specific
  problem the next attempt is told about.

Pure and incremental: :meth:`StreamGuard.feed` takes each piece as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

#: Lines that make a loop when one block of them repeats back to back.
EXACT_LOOP_LINES = 24
#: Lines that make a loop when only the digits differ (data rows are legitimately alike).
SHAPE_LOOP_LINES = 80
#: Longest repeating block considered, in lines.
MAX_BLOCK = 12

_OPEN = re.compile(
    r"^[ \t\ufeff\u200b\u200c\u200d\u2060]{0,4}(`{3,}|~{3,})[ \t]*(python3?|py)\b", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_BLANK = " \t\ufeff\u200b\u200c\u200d\u2060"


@dataclass
class StreamGuard:
    """Feed it the answer piece by piece; :attr:`stop` is set once reading should end."""

    stop_at_fence: bool = True
    detect_loops: bool = True
    stop: str | None = None  #: "fence" or "repetition" once decided
    loop_line: str = ""  #: one line of the loop, for the repair message
    keep_chars: int | None = None  #: where to cut the text (before the loop), when looping
    _buffer: str = ""
    _lines: list[str] = field(default_factory=list)
    _offsets: list[int] = field(default_factory=list)
    _consumed: int = 0
    _fence: str | None = None  #: the open python fence's marker, while inside one
    _in_think: bool = False

    def feed(self, piece: str) -> str | None:
        """Take the next piece; return the stop reason once there is one."""
        if self.stop is not None:
            return self.stop
        self._buffer += piece
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            start = self._consumed
            self._consumed += len(line) + 1
            self._line(line.rstrip("\r"), start)
            if self.stop is not None:
                break
        return self.stop

    def _line(self, line: str, start: int) -> None:
        lowered = line.strip().lower()
        if lowered.startswith("<think>"):
            self._in_think = "</think>" not in lowered
        elif "</think>" in lowered:
            self._in_think = False
        if self.stop_at_fence and not self._in_think:
            if self._fence is None:
                match = _OPEN.match(line)
                if match:
                    self._fence = match.group(1)
            elif (
                (body := line.strip(_BLANK))
                and set(body) == {self._fence[0]}
                and len(body) >= len(self._fence)
            ):
                self.stop = "fence"
                return
        if self.detect_loops:
            self._lines.append(line.strip())
            self._offsets.append(start)
            self._check_loop()

    def _check_loop(self) -> None:
        lines = self._lines
        if not lines[-1]:
            return
        for block in range(1, MAX_BLOCK + 1):
            for limit, norm in ((EXACT_LOOP_LINES, _same), (SHAPE_LOOP_LINES, _shape)):
                if len(lines) < limit or not _repeats(lines, block, limit, norm):
                    continue
                first = len(lines) - limit
                self.stop = "repetition"
                self.loop_line = lines[-1][:120]
                # keep the text up to the first repetition of the block
                self.keep_chars = self._offsets[first + block]
                return


def _same(line: str) -> str:
    return line


def _shape(line: str) -> str:
    return _DIGITS.sub("0", line)


def _repeats(lines: list[str], block: int, limit: int, norm: Callable[[str], str]) -> bool:
    """Whether the last ``limit`` lines are one ``block``-line pattern repeated back to back."""
    tail = [norm(x) for x in lines[-limit:]]
    if len(set(tail)) > block or (block > 1 and len(set(tail[:block])) == 1):
        return False  # a block of one repeated line is caught at block == 1
    return all(tail[i] == tail[i % block] for i in range(limit))
