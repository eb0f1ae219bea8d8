"""Table-driven tests for promptkiln.llm.extract: the shared red-team responses, then one table of
hand-written cases per rule in the module docstring."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from promptkiln.errors import ExtractionError
from promptkiln.llm.extract import Script, extract

# The repo is cloned next to a copy of shared/, in CI as here: always <repo>/../shared/...
REDTEAM = Path(__file__).resolve().parents[3].parent / "shared" / "redteam" / "llm_responses.jsonl"
if not REDTEAM.is_file():  # fail the collection loudly, never skip
    raise FileNotFoundError(
        f"red-team responses not found at {REDTEAM}; shared/ must sit beside the repo"
    )
RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in REDTEAM.read_text(encoding="utf-8").splitlines() if line.strip()
]
# Records whose main expectation this extractor does not meet but an acceptable alternative does.
# Empty today: every record meets its main expectation; a change of policy must be listed here.
USES_ALTERNATIVE: set[str] = set()


def _outcome(response: str) -> dict[str, Any]:
    try:
        script = extract(response)
    except ExtractionError as exc:
        return {"outcome": "reject", "error": exc.kind}
    return {"outcome": "extract", "code": script.code}


def _meets(got: dict[str, Any], want: dict[str, Any]) -> bool:
    if got["outcome"] != want["outcome"]:
        return False
    if want["outcome"] == "reject":
        return bool(got["error"] == want["error"])
    # An alternative may say "extract" without giving the code (huge_2mb_response).
    return "code" not in want or bool(got["code"] == want["code"])


def test_redteam_file_is_not_empty() -> None:
    assert len(RECORDS) >= 20
    assert len({r["id"] for r in RECORDS}) == len(RECORDS)


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_redteam_response(record: dict[str, Any]) -> None:
    expected = record["expected"]
    got = _outcome(record["response"])
    if record["id"] in USES_ALTERNATIVE:
        assert any(_meets(got, alt) for alt in expected.get("acceptable_alternatives", [])), got
    else:
        assert _meets(got, expected), f"{record['description']}: got {got}"
    # Time: the fastest of a few runs, so a busy machine does not fail a correct extractor.
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        _outcome(record["response"])
        best = min(best, time.perf_counter() - start)
    assert best * 1000 <= expected["max_ms"], f"{best * 1000:.1f} ms > {expected['max_ms']} ms"


def test_redteam_huge_response_extracts_when_the_limit_allows() -> None:
    (record,) = [r for r in RECORDS if r["id"] == "huge_2mb_response"]
    script = extract(record["response"], max_bytes=3_000_000)
    assert script.code.startswith("DATA = [0, ")
    assert script.code.endswith("]\nprint(len(DATA))\n")


# (id, response, code, language, start_line)
EXTRACTS: list[tuple[str, str, str, str, int]] = [
    # tags and info strings
    ("tag-python", "```python\nx = 1\n```\n", "x = 1\n", "python", 2),
    ("tag-py", "```py\nx = 1\n```", "x = 1\n", "py", 2),
    ("tag-PYTHON", "```PYTHON\nx = 1\n```", "x = 1\n", "PYTHON", 2),
    ("tag-py3", "```Py3\nx = 1\n```", "x = 1\n", "Py3", 2),
    ("tag-python3.12", "```python3.12\nx = 1\n```", "x = 1\n", "python3.12", 2),
    ("tag-braces", "```{python}\nx = 1\n```", "x = 1\n", "python", 2),
    ("tag-brace-dot", "```{.python .numberLines}\nx = 1\n```", "x = 1\n", "python", 2),
    ("tag-brace-space", "``` { .python title='a' }\nx = 1\n```", "x = 1\n", "python", 2),
    ("tag-title", '```python title="x.py"\nx = 1\n```', "x = 1\n", "python", 2),
    ("tag-colon-file", "```python:main.py\nx = 1\n```", "x = 1\n", "python", 2),
    ("tag-space-before", "```   python\nx = 1\n```", "x = 1\n", "python", 2),
    # fence characters and lengths
    ("tilde", "~~~python\nx = 1\n~~~", "x = 1\n", "python", 2),
    ("bom-before-fence", "\ufeff```python\nx = 1\n```", "x = 1\n", "python", 2),
    ("zwsp-before-fence", "Here:\n\u200b```python\nx = 1\n\u200b```\n", "x = 1\n", "python", 3),
    ("zwj-zwnj-wj", "\u200d\u200c\u2060```py\nx = 1\n```", "x = 1\n", "py", 2),
    ("tilde-long", "~~~~~py\nx = 1\n~~~~~~~~\n", "x = 1\n", "py", 2),
    ("longer-close", "```python\nx = 1\n``````\n", "x = 1\n", "python", 2),
    ("close-trailing-space", "```python\nx = 1\n```   \t\n", "x = 1\n", "python", 2),
    (
        "tilde-inside-backticks",
        "```python\ns = '''\n~~~\n'''\n```",
        "s = '''\n~~~\n'''\n",
        "python",
        2,
    ),
    (
        "backticks-inside-tilde",
        "~~~python\ns = '''\n```\n'''\n~~~",
        "s = '''\n```\n'''\n",
        "python",
        2,
    ),
    (
        "shorter-inside-longer",
        "`````python\ns = '''\n````\n'''\n`````",
        "s = '''\n````\n'''\n",
        "python",
        2,
    ),
    # newlines
    ("crlf", "```python\r\nx = 1\r\ny = 2\r\n```\r\n", "x = 1\ny = 2\n", "python", 2),
    ("lone-cr", "Here:\r```python\rx = 1\ry = 2\r```\r", "x = 1\ny = 2\n", "python", 3),
    ("mixed-newlines", "a\r\nb\r```python\nx = 1\r\ny = 2\r```", "x = 1\ny = 2\n", "python", 4),
    ("no-final-newline", "```python\nx = 1\n```", "x = 1\n", "python", 2),
    ("u2028-is-not-a-newline", "```python\ns = 'a\u2028b'\n```", "s = 'a\u2028b'\n", "python", 2),
    # exact content: blank lines kept, indentation inside the code kept
    ("blank-lines-kept", "```python\n\nx = 1\n\n```", "\nx = 1\n\n", "python", 2),
    ("code-indent-kept", "```python\nif x:\n    y = 1\n```", "if x:\n    y = 1\n", "python", 2),
    # fence indentation (list items): the opening fence's indentation is removed from content
    ("indent-1", " ```python\n x = 1\n ```", "x = 1\n", "python", 2),
    (
        "list-item",
        "1. Save this:\n   ```python\n   if x:\n       y = 1\n   ```\n2. Run it.",
        "if x:\n    y = 1\n",
        "python",
        3,
    ),
    ("nested-list", "- a\n  - b\n      ```python\n      x = 1\n      ```", "x = 1\n", "python", 4),
    (
        "less-indented-content",
        "   ```python\nx = 1\n  y = 2\n   ```",
        "x = 1\ny = 2\n",
        "python",
        2,
    ),
    ("close-indent-up-to-3-more", "```python\nx = 1\n   ```\n", "x = 1\n", "python", 2),
    # prose around, other blocks beside
    ("prose", "Sure!\n\nHere it is:\n```python\nx = 1\n```\nDone.\n", "x = 1\n", "python", 5),
    (
        "python-then-bash",
        "```python\nx = 1\n```\n```bash\npython x.py\n```",
        "x = 1\n",
        "python",
        2,
    ),
    ("bash-then-python", "```sh\npip install x\n```\n```py\nx = 1\n```", "x = 1\n", "py", 5),
    (
        "python-then-output",
        "```python\nprint(1)\n```\nOutput:\n```\n1\n```",
        "print(1)\n",
        "python",
        2,
    ),
    ("untagged-only", "Here:\n```\nx = 1\n```\n", "x = 1\n", "", 3),
    ("untagged-tilde", "~~~\nx = 1\n~~~", "x = 1\n", "", 2),
    (
        "unterminated-bash-after",
        "```python\nx = 1\n```\n```bash\npython x.py",
        "x = 1\n",
        "python",
        2,
    ),
    (
        "inline-backticks-before",
        "Use ```python fences``` please.\n```python\nx = 1\n```",
        "x = 1\n",
        "python",
        3,
    ),
    # reasoning
    (
        "think-then-answer",
        "<think>\nDraft:\n```python\nx = 0\n```\n</think>\n\n```python\nx = 1\n```",
        "x = 1\n",
        "python",
        9,
    ),
    ("think-empty", "<think>\n\n</think>\n\n```python\nx = 1\n```", "x = 1\n", "python", 6),
    ("think-leading-space", "\n  <think>a</think>```python\nx = 1\n```", "x = 1\n", "python", 3),
    (
        "think-unclosed-fence-inside",
        "<think>\n```python\nx = (\n</think>\n```python\nx = 1\n```",
        "x = 1\n",
        "python",
        6,
    ),
    (
        "think-close-tag-only",
        "I need a loop.\n```python\nfor i in x:\n```\n</think>\n```python\nx = 1\n```",
        "x = 1\n",
        "python",
        7,
    ),
    (
        "close-tag-in-code-is-code",
        "```python\nprint(text.split('</think>')[1])\n```",
        "print(text.split('</think>')[1])\n",
        "python",
        2,
    ),
    (
        "open-tag-in-code-is-code",
        "```python\nprint('<think>')\n```",
        "print('<think>')\n",
        "python",
        2,
    ),
    (
        "open-tag-in-prose-is-prose",
        "Models write <think> first.\n```python\nx = 1\n```",
        "x = 1\n",
        "python",
        3,
    ),
    # parsing is independent of the warnings filter (pytest runs with filterwarnings=error)
    (
        "invalid-escape-warns-only",
        "```python\nimport re\nre.compile('\\d')\n```",
        "import re\nre.compile('\\d')\n",
        "python",
        2,
    ),
]


@pytest.mark.parametrize(
    ("response", "code", "language", "start_line"),
    [c[1:] for c in EXTRACTS],
    ids=[c[0] for c in EXTRACTS],
)
def test_extracts(response: str, code: str, language: str, start_line: int) -> None:
    assert extract(response) == Script(code=code, language=language, start_line=start_line)


# (id, response, kind, words the message must contain)
REJECTS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("empty-response", "", "no_code_block", ("no fenced code block",)),
    ("prose-only", "I can't do that.", "no_code_block", ()),
    ("bare-code", "import os\nprint(os.getcwd())\n", "no_code_block", ()),
    ("inline-fence-line", "```print(1)```\n", "no_code_block", ()),
    ("two-backticks", "``python\nx = 1\n``", "no_code_block", ()),
    ("tab-indented-fence", "\t```python\nx = 1\n\t```", "no_code_block", ()),
    ("only-bash", "```bash\nls\n```", "no_python_block", ("bash",)),
    ("bash-and-diff", "```bash\nls\n```\n```diff\n-a\n```", "no_python_block", ("bash, diff",)),
    ("pycon", "```pycon\n>>> 1\n```", "no_python_block", ("pycon",)),
    ("ipython-is-not-python", "```ipython\nx = 1\n```", "no_python_block", ()),
    ("untagged-beside-bash", "```bash\nls\n```\n```\nx = 1\n```", "no_python_block", ("untagged",)),
    (
        "two-python",
        "```python\na = 1\n```\n```py\nb = 2\n```",
        "multiple_code_blocks",
        ("lines 1 and 4",),
    ),
    (
        "three-python",
        "```python\na\n```\n```python\nb\n```\n```python\nc\n```",
        "multiple_code_blocks",
        ("3 Python",),
    ),
    ("two-untagged", "```\na = 1\n```\n```\nb = 2\n```", "multiple_code_blocks", ("untagged",)),
    ("unterminated-python", "```python\nx = 1\n", "unterminated_fence", ("line 1", "never closed")),
    ("unterminated-untagged", "Here:\n```\nx = 1\n", "unterminated_fence", ("line 2",)),
    ("close-with-other-char", "```python\nx = 1\n~~~\n", "unterminated_fence", ()),
    ("close-too-short", "````python\nx = 1\n```\n", "unterminated_fence", ()),
    ("close-with-info", "```python\nx = 1\n``` python\n", "unterminated_fence", ()),
    ("close-indented-too-far", "```python\nx = 1\n    ```\n", "unterminated_fence", ()),
    (
        "python-then-unterminated-python",
        "```python\na\n```\n```python\nb",
        "multiple_code_blocks",
        (),
    ),
    ("empty", "```python\n```", "empty_code_block", ("line 1", "empty")),
    ("blank", "```python\n\n   \n\t\n```", "empty_code_block", ()),
    (
        "comments-only",
        "```python\n# TODO: write the script\n```",
        "empty_code_block",
        ("only comments",),
    ),
    ("untagged-empty", "```\n```", "empty_code_block", ()),
    (
        "unexpected-indent",
        "```python\nx = 1\n  y = 2\n```",
        "syntax_error",
        ("line 2: unexpected indent",),
    ),
    ("invalid-syntax", "```python\nx = 1\nprint 'a'\n```", "syntax_error", ("line 2",)),
    ("nul-byte", "```python\nx = 1\ny = 2\x00\n```", "syntax_error", ("line 2", "NUL")),
    (
        "lone-surrogate",
        "```python\nx = 1\ns = '\ud800'\n```",
        "syntax_error",
        ("line 2", "surrogate"),
    ),
    (
        "deep-nesting",
        "```python\nx = " + "-" * 100_000 + "1\n```",
        "syntax_error",
        ("nested too deeply",),
    ),
    ("deep-brackets", "```python\nx = " + "[" * 5000 + "]" * 5000 + "\n```", "syntax_error", ()),
    ("untagged-not-python", "```\n$ ls -la\n```", "syntax_error", ("line 1",)),
    (
        "think-unterminated",
        "<think>\nI'll write:\n```python\nx = 1\n```\n",
        "no_code_block",
        ("<think>",),
    ),
    (
        "think-code-only",
        "<think>\n```python\nx = 1\n```\n</think>\nDone.",
        "no_code_block",
        ("after </think>",),
    ),
    (
        "think-two-in-answer",
        "<think>a</think>\n```python\na\n```\n```python\nb\n```",
        "multiple_code_blocks",
        ("lines 2 and 5",),
    ),
]


@pytest.mark.parametrize(
    ("response", "kind", "words"), [c[1:] for c in REJECTS], ids=[c[0] for c in REJECTS]
)
def test_rejects(response: str, kind: str, words: tuple[str, ...]) -> None:
    with pytest.raises(ExtractionError) as info:
        extract(response)
    assert info.value.kind == kind, info.value.message
    for word in words:
        assert word in info.value.message
    # Usable as feedback to the model: short, one line, and with a hint that says the fix.
    assert len(info.value.message) < 160 and "\n" not in info.value.message
    assert info.value.hint


def test_size_is_checked_in_utf8_bytes() -> None:
    response = "```python\nprint('é')\n```\n"
    assert extract(response, max_bytes=len(response.encode())).code == "print('é')\n"
    with pytest.raises(ExtractionError) as info:
        extract(response, max_bytes=len(response))
    assert info.value.kind == "response_too_large"
    assert f"{len(response) + 1:,} bytes" in info.value.message


def test_size_is_checked_before_anything_else() -> None:
    with pytest.raises(ExtractionError) as info:
        extract("<think>" + "x" * 20, max_bytes=10)
    assert info.value.kind == "response_too_large"


def test_max_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        extract("```python\nx = 1\n```", max_bytes=0)


def test_script_is_frozen() -> None:
    script = extract("```python\nx = 1\n```")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(script, "code", "import os")  # noqa: B010


def test_start_line_points_at_the_first_code_line() -> None:
    response = "a\r\nb\r\n\r\n```python\r\nfirst = 1\r\nsecond = 2\r\n```"
    script = extract(response)
    lines = response.replace("\r\n", "\n").split("\n")
    assert lines[script.start_line - 1] == "first = 1"
