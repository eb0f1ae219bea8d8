"""Take the one Python script out of a model's response, or say exactly why there is none.

:func:`extract` is a pure function: it never executes or imports the code, and ``ast.parse`` is
its only check. It runs in time linear in the size of the response (one line-by-line pass, no
backtracking regex over the text), and refuses oversized responses before doing any other work.

Rules, in the order they apply:

1. **Size.** A response over ``max_bytes`` bytes of UTF-8 is refused (``response_too_large``).
2. **Newlines.** CRLF and lone CR become LF. Only these three count as line breaks (as in
   Markdown and in Python's tokenizer); U+2028, form feed and friends are ordinary characters.
   Line numbers in results and messages count lines of the response after this step.
3. **Reasoning.** A ``<think>…</think>`` section is set aside, and only the final answer after it
   is searched, so a draft inside the reasoning never beats the answer's code. The section ends at
   the first ``</think>``, and exists when the response opens with ``<think>`` (leading whitespace
   allowed), or when that first ``</think>`` stands alone on its line (models whose chat template
   put the opening tag in the prompt). A response that opens with ``<think>`` and never closes it
   ended mid-reasoning: ``no_code_block``. Tags are matched exactly, in lower case.
4. **Fences** follow CommonMark, one line at a time:

   - an opening fence is a line of at least three backticks or at least three tildes, after
     optional spaces of indentation (any number, because models indent fences inside list items);
     its info string is the rest of the line and, for backtick fences, must not contain a
     backtick (so ```` ```python ... ``` ```` inside a prose line is inline code, not a fence);
   - the closing fence uses the same character, is at least as long as the opening one, carries
     nothing but spaces after it, and is indented at most three spaces more than the opening;
     any other line, including a shorter fence or one of the other character, is content;
   - the opening fence's indentation is removed from each content line (fewer spaces if a line
     has fewer), as CommonMark does for fences inside list items;
   - a fence left open runs to the end of the response.

5. **Language** is the first word of the info string; a leading ``{`` or ``.`` is skipped, so
   ```` ```{python} ````, ```` ```{.python} ```` and ```` ```python title="x.py" ```` all say
   ``python``. ``python``, ``py``, ``python3``, ``py3`` and ``python3.N``, in any case, are Python;
   anything else (``bash``, ``pycon``, ``diff``, …) is not; no word at all is *untagged*.
6. **Choice.**

   - exactly one Python-tagged block: that one (other-language and untagged blocks are ignored);
     if it was never closed, ``unterminated_fence``;
   - two or more Python-tagged blocks: ``multiple_code_blocks`` (never concatenated or guessed);
   - no Python-tagged block: an untagged block that is the *only* block is taken (if it was never
     closed, ``unterminated_fence``); several untagged blocks alone are ``multiple_code_blocks``;
     otherwise, with other-language blocks present, ``no_python_block``;
   - no block at all: ``no_code_block``. Fence-less responses are refused even if they parse,
     because prose that happens to be valid Python must not run.

7. **Content.** The code is the block's lines joined with ``\\n`` plus a final ``\\n``. A block
   that is blank, or holds nothing but comments, is ``empty_code_block``. Otherwise it must pass
   ``ast.parse`` (warnings silenced, so a warnings filter never changes the verdict); a syntax
   error, a NUL byte, a lone surrogate, or nesting deep enough to exhaust the parser's recursion
   or memory is ``syntax_error``, with the line number inside the block.

Every refusal is an :class:`~promptkiln.errors.ExtractionError` whose ``kind`` names the reason and
whose message is short enough to hand back to the model in a repair loop.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from promptkiln.errors import ExtractionError

__all__ = ["DEFAULT_MAX_BYTES", "Script", "extract"]

DEFAULT_MAX_BYTES = 1_000_000

_ONE_BLOCK_HINT = "reply with the whole script in exactly one ```python fenced block"

# The first word of an info string. Applied with .match() to one (short) line, never to the
# whole response.
_INFO_WORD = re.compile(
    r"""
    [{\s]*      # an optional opening brace (Pandoc/Quarto attributes: {python} or { .python })
    \.?         # an optional class dot ({.python})
    ([\w+#.-]*) # the word itself: letters, digits, _ + # . - (stops at space, =, :, }, quotes)
    """,
    re.VERBOSE | re.ASCII,
)

# The language words that mean Python. Applied with .fullmatch() to the word above.
_PYTHON_WORD = re.compile(
    r"""
    (?:python|py)   # the name, long or short
    (?:3            # an optional major version...
       (?:\.\d+)?   # ...with an optional minor version (python3.12)
    )?
    """,
    re.VERBOSE | re.ASCII | re.IGNORECASE,
)

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class Script:
    """The extracted script."""

    code: str
    """Exactly the block's content, newlines normalised to ``\\n``, ending with ``\\n``."""
    language: str
    """The language word as written (``"Python3"``, ``"py"``), or ``""`` for an untagged block."""
    start_line: int
    """1-based line of the first code line in the response (after newline normalisation)."""


@dataclass(frozen=True)
class _Block:
    language: str
    open_line: int  # 1-based line of the opening fence in the response
    lines: tuple[str, ...]
    closed: bool

    @property
    def is_python(self) -> bool:
        return _PYTHON_WORD.fullmatch(self.language) is not None

    def describe(self) -> str:
        tag = self.language or "untagged"
        return f"the {tag} block opened on line {self.open_line}"


def extract(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Script:
    """Return the one Python script in a model response.

    ``max_bytes`` caps the response size in **bytes** of UTF-8. Raises
    :class:`~promptkiln.errors.ExtractionError` with a ``kind`` naming the reason when there is no
    single usable script.
    """
    _check_size(text, max_bytes)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    answer, first_line, had_reasoning = _split_reasoning(text)
    blocks = _scan(answer.split("\n"), first_line)
    block = _choose(blocks, had_reasoning)
    return _finish(block)


def _check_size(text: str, max_bytes: int) -> None:
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    hint = "reply with a shorter script; read large data from ./inputs/ instead of embedding it"
    # A character is at least one byte, so this refuses without touching the text at all.
    if len(text) > max_bytes:
        raise ExtractionError(
            "response_too_large",
            f"the response is at least {len(text):,} bytes, above the {max_bytes:,}-byte limit",
            hint=hint,
        )
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ExtractionError(
            "response_too_large",
            f"the response is {size:,} bytes, above the {max_bytes:,}-byte limit",
            hint=hint,
        )


def _split_reasoning(text: str) -> tuple[str, int, bool]:
    """Return (final answer, response line number of its first line, whether reasoning was cut)."""
    opens = text.lstrip().startswith(_THINK_OPEN)
    end = text.find(_THINK_CLOSE)
    if end < 0:
        if opens:
            raise ExtractionError(
                "no_code_block",
                "the response ended inside its <think> section, before any final answer",
                hint=f"finish the reasoning with </think>, then {_ONE_BLOCK_HINT}",
            )
        return text, 1, False
    if not opens:
        line_start = text.rfind("\n", 0, end) + 1
        line_end = text.find("\n", end)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        if line.strip() != _THINK_CLOSE:
            return text, 1, False
    cut = end + len(_THINK_CLOSE)
    return text[cut:], text.count("\n", 0, cut) + 1, True


#: Characters a model (or a copy-paste) can leave invisibly at the start of a fence line: a
#: byte-order mark, zero-width space / non-joiner / joiner, word joiner.
INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"


def _fence_body(line: str) -> str:
    """The line without its leading spaces and invisible characters."""
    return line.lstrip(" " + INVISIBLE)


def _opening_fence(line: str) -> tuple[int, str, int, str] | None:
    """(indent, fence char, fence length, language word) if the line opens a fence."""
    body = _fence_body(line)
    if not body or body[0] not in "`~":
        return None
    char = body[0]
    length = len(body) - len(body.lstrip(char))
    if length < 3:
        return None
    info = body[length:]
    if char == "`" and "`" in info:
        return None
    word = _INFO_WORD.match(info)
    return len(line) - len(body), char, length, word.group(1) if word else ""


def _is_closing_fence(line: str, fence: str, max_indent: int) -> bool:
    body = _fence_body(line)
    if len(line) - len(body) > max_indent or not body.startswith(fence):
        return False
    return not body.lstrip(fence[0]).strip(" \t")


def _dedent(line: str, indent: int) -> str:
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def _scan(lines: list[str], first_line: int) -> list[_Block]:
    """Find every fenced block; each line is looked at once."""
    blocks: list[_Block] = []
    i, n = 0, len(lines)
    while i < n:
        opening = _opening_fence(lines[i])
        if opening is None:
            i += 1
            continue
        indent, char, length, language = opening
        fence = char * length
        content: list[str] = []
        j = i + 1
        while j < n and not _is_closing_fence(lines[j], fence, indent + 3):
            content.append(_dedent(lines[j], indent))
            j += 1
        blocks.append(_Block(language, first_line + i, tuple(content), closed=j < n))
        i = j + 1
    return blocks


def _lines_of(blocks: list[_Block]) -> str:
    numbers = [str(b.open_line) for b in blocks]
    return ", ".join(numbers[:-1]) + " and " + numbers[-1] if len(numbers) > 1 else numbers[0]


def _unterminated(block: _Block) -> ExtractionError:
    return ExtractionError(
        "unterminated_fence",
        f"{block.describe()} is never closed; the response looks cut off",
        hint="reply with a shorter, complete script and close the fence",
    )


def _choose(blocks: list[_Block], had_reasoning: bool) -> _Block:
    python = [b for b in blocks if b.is_python]
    if len(python) > 1:
        raise ExtractionError(
            "multiple_code_blocks",
            f"the response has {len(python)} Python blocks (lines {_lines_of(python)}); "
            "expected exactly one",
            hint=_ONE_BLOCK_HINT,
        )
    if python:
        if not python[0].closed:
            raise _unterminated(python[0])
        return python[0]
    if not blocks:
        where = "the final answer after </think>" if had_reasoning else "the response"
        raise ExtractionError(
            "no_code_block", f"{where} has no fenced code block", hint=_ONE_BLOCK_HINT
        )
    untagged = [b for b in blocks if not b.language]
    if len(blocks) == 1 and untagged:
        if not untagged[0].closed:
            raise _unterminated(untagged[0])
        return untagged[0]
    if len(untagged) == len(blocks):
        raise ExtractionError(
            "multiple_code_blocks",
            f"the response has {len(blocks)} untagged code blocks (lines {_lines_of(blocks)}) "
            "and none tagged python",
            hint=_ONE_BLOCK_HINT,
        )
    tags = sorted({b.language for b in blocks if b.language})
    raise ExtractionError(
        "no_python_block",
        f"the response has no Python block, only {', '.join(tags)}"
        + (" and untagged" if untagged else "")
        + " code",
        hint=_ONE_BLOCK_HINT,
    )


def _finish(block: _Block) -> Script:
    code = "\n".join(block.lines) + "\n"
    if not code.strip():
        raise ExtractionError(
            "empty_code_block", f"{block.describe()} is empty", hint=_ONE_BLOCK_HINT
        )
    try:
        tree = _parse(code, block)
    except ExtractionError as exc:
        exc.source = code  # a caller may try autofix_syntax on it
        raise
    if not tree.body:
        raise ExtractionError(
            "empty_code_block",
            f"{block.describe()} holds only comments, no code",
            hint=_ONE_BLOCK_HINT,
        )
    return Script(code=code, language=block.language, start_line=block.open_line + 1)


def _syntax_error(detail: str) -> ExtractionError:
    return ExtractionError(
        "syntax_error",
        f"the Python block does not parse: {detail}",
        hint="fix it and reply with the whole corrected script in one ```python block",
    )


def _parse(code: str, block: _Block) -> ast.Module:
    nul = code.find("\x00")
    if nul >= 0:
        raise _syntax_error(f"line {code.count(chr(10), 0, nul) + 1}: a NUL byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except SyntaxError as exc:  # includes IndentationError and TabError
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise _syntax_error(f"{where}{exc.msg}") from None
    except UnicodeEncodeError as exc:
        line = code.count("\n", 0, exc.start) + 1
        raise _syntax_error(f"line {line}: a lone surrogate character") from None
    except (RecursionError, MemoryError):
        raise _syntax_error("nested too deeply for the parser") from None
    except ValueError as exc:  # defensive: other source-level refusals of compile()
        raise _syntax_error(str(exc)) from None
