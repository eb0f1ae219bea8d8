"""Fuzzing promptkiln.llm.extract: random mixtures of fences, tags, think tags, newlines and prose
never raise anything but ExtractionError, every result is text taken from the response, and the
time taken grows linearly with adversarial inputs."""

from __future__ import annotations

import ast
import gc
import time
import warnings
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptkiln.errors import ExtractionError
from promptkiln.llm.extract import Script, extract

KINDS = {
    "no_code_block",
    "no_python_block",
    "unterminated_fence",
    "multiple_code_blocks",
    "empty_code_block",
    "syntax_error",
    "response_too_large",
}

FRAGMENTS = [
    "```",
    "````",
    "`````",
    "~~~",
    "~~~~",
    "`",
    "``",
    "```python",
    "```py",
    "```Python3",
    "```{python}",
    '```python title="a.py"',
    "```bash",
    "```pycon",
    "~~~python",
    "~~~py",
    "<think>",
    "</think>",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\r",
    " ",
    "   ",
    "    ",
    "\t",
    "x = 1",
    "print('hi')",
    "if x:",
    "    y = 2",
    "# comment",
    "'''",
    "(",
    ")",
    "\\d",
    "Here is the script:",
    "Run it with python main.py.",
    "\x00",
    "\ud800",
    "é",
    "报告",
    "\u2028",
    "\x0c",
]

fragments = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)),
    max_size=60,
).map("".join)

CODE_LINES = [
    "x = 1",
    "print(x)",
    "if x:",
    "    y = 2",
    "",
    "   ",
    "# comment",
    "```",
    "~~~",
    "````",
    "s = '''",
    "'''",
    "<think>",
    "</think>",
    "  bad = 'indent'",
    "r = '\\d'",
    "print('报告')",
]
TAGS = ["python", "py", "Python3", "{python}", 'python title="x.py"', "", "bash", "pycon", " py"]
PROSE = [
    "Here is the script:",
    "",
    "Run it.",
    "<think>",
    "</think>",
    "I used ``` fences.",
    "  note",
]


@st.composite
def _block(draw: st.DrawFn) -> list[str]:
    char = draw(st.sampled_from("`~"))
    length = draw(st.integers(3, 5))
    indent = draw(st.sampled_from(["", " ", "   ", "    "]))
    tag = draw(st.sampled_from(TAGS))
    body = draw(st.lists(st.sampled_from(CODE_LINES), max_size=6))
    close = draw(st.sampled_from([char * length, char * (length + 1), char * (length - 1), None]))
    lines = [indent + char * length + tag] + [indent + line for line in body]
    return lines if close is None else [*lines, indent + close]


@st.composite
def _structured(draw: st.DrawFn) -> str:
    """Responses built from whole blocks, prose lines and think tags, with one newline style."""
    segments = draw(
        st.lists(st.one_of(_block(), st.lists(st.sampled_from(PROSE), max_size=3)), max_size=5)
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(line for segment in segments for line in segment)


responses = st.one_of(fragments, _structured())

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(text: str) -> Script | ExtractionError:
    try:
        return extract(text)
    except ExtractionError as exc:
        return exc


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _assert_taken_from(text: str, script: Script) -> None:
    """Each code line is the tail of the response line it came from, after at most the fence's
    indentation (spaces) was removed, starting at start_line."""
    assert script.code.endswith("\n")
    normalised = "\n".join(lines := _lines(text))
    code_lines = script.code.split("\n")[:-1]
    first = script.start_line - 1
    assert script.start_line >= 1 and first + len(code_lines) <= len(lines)
    prefixes = set()
    for offset, code_line in enumerate(code_lines):
        source = lines[first + offset]
        assert source.endswith(code_line)
        prefix = source[: len(source) - len(code_line)]
        assert prefix == " " * len(prefix)
        prefixes.add(prefix)
    if prefixes <= {""}:
        assert script.code[:-1] in normalised


@FUZZ
@given(responses)
def test_only_extraction_errors_and_results_come_from_the_text(text: str) -> None:
    result = _run(text)
    if isinstance(result, ExtractionError):
        assert result.kind in KINDS
        assert result.message and "\n" not in result.message and result.hint
        return
    _assert_taken_from(text, result)
    assert "\x00" not in result.code
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ast.parse(result.code).body


@FUZZ
@given(responses)
def test_line_endings_do_not_change_the_outcome(text: str) -> None:
    unix = text.replace("\r\n", "\n").replace("\r", "\n")
    outcomes = []
    for variant in (unix, unix.replace("\n", "\r\n"), unix.replace("\n", "\r")):
        result = _run(variant)
        outcomes.append(result.kind if isinstance(result, ExtractionError) else result)
    assert outcomes[0] == outcomes[1] == outcomes[2]


@FUZZ
@given(responses, st.text(max_size=200).filter(lambda s: "`" not in s and "~" not in s))
def test_reasoning_never_beats_the_answer(thought: str, prose: str) -> None:
    # Whatever the reasoning holds (fences, half-open blocks, stray tags), the answer's block wins.
    reasoning = "<think>" + thought.replace("</think>", "") + "</think>"
    text = f"{reasoning}\n{prose}\n```python\nanswer = 42\n```\n"
    script = extract(text)
    assert script.code == "answer = 42\n"
    assert script.start_line == _lines(text).index("answer = 42") + 1


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    result = _run(text)
    if not isinstance(result, ExtractionError):
        _assert_taken_from(text, result)


# Adversarial shapes: each builds a response of about n bytes.
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "many-unterminated-fences": lambda n: "```python\n" + "``\n" * (n // 3),
    "alternating-fences": lambda n: "```\n" * (n // 4),
    "nested-fence-lengths": lambda n: "".join("`" * (3 + i % 50) + "py\n" for i in range(n // 30)),
    "one-line-of-backticks": lambda n: "`" * n,
    "backticks-in-info-string": lambda n: "```a" + "`" * n,
    "tilde-info-of-backticks": lambda n: "~~~" + "`" * n + "\nx = 1\n",
    "deep-indent-fence": lambda n: " " * n + "```python\nx = 1\n```",
    "many-think-tags": lambda n: "<think>" * (n // 7),
    "many-close-tags": lambda n: "</think>" * (n // 8),
    "lone-crs": lambda n: "```python\n" + "\r" * n,
    "crlf-blank-lines": lambda n: "```python\r\n" + "\r\n" * (n // 2) + "```",
    "deep-nesting": lambda n: "```python\nx = " + "-" * n + "1\n```",
    "deep-brackets": lambda n: "```python\nx = " + "[" * (n // 2) + "]" * (n // 2) + "\n```",
    "long-python-block": lambda n: "```python\n" + "x = 1\n" * (n // 6) + "```",
    "blocks-inside-think": lambda n: "<think>\n" + "```python\nx\n```\n" * (n // 16),
}


def _best_time(text: str, runs: int = 3) -> float:
    best = float("inf")
    gc.collect()
    gc.disable()  # a collection inside one timing is the usual source of a false alarm
    try:
        for _ in range(runs):
            start = time.perf_counter()
            _run(text)
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("build", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_time_grows_linearly(build: Callable[[int], str]) -> None:
    """A complexity check, not a speed target: 16x the input may cost at most 100x the time.
    Linear is ~16x and quadratic ~256x, so a busy machine's noise (seen up to ~4x) cannot flip
    the verdict either way."""
    small, large = build(25_000), build(400_000)
    assert len(large) > 15 * len(small)
    t_small, t_large = _best_time(small), _best_time(large)
    assert t_large < 4.0, f"{t_large:.3f} s for {len(large)} bytes"
    assert t_large < 0.05 or t_large < 100 * t_small, f"{t_small:.4f} s -> {t_large:.4f} s"


def test_size_cap_is_constant_time() -> None:
    huge = "```python\n" + "x" * 50_000_000 + "\n```"
    start = time.perf_counter()
    with pytest.raises(ExtractionError) as info:
        extract(huge)
    assert time.perf_counter() - start < 0.05
    assert info.value.kind == "response_too_large"
