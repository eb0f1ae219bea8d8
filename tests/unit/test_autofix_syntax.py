"""promptkiln.making.autofix.syntax: a wrong closing bracket is fixed; nothing else is guessed."""

from __future__ import annotations

import ast

import pytest

from promptkiln.errors import ExtractionError
from promptkiln.llm.extract import extract
from promptkiln.making.autofix.syntax import fix_brackets


def test_a_wrong_closer_on_a_line_is_replaced() -> None:
    code = 'story = []\nstory.append(Paragraph("x", styles["Normal"])]\nd = {"a": [1, 2)}\n'
    fixed = fix_brackets(code)
    assert fixed is not None
    text, fixes = fixed
    assert text == 'story = []\nstory.append(Paragraph("x", styles["Normal"]))\nd = {"a": [1, 2]}\n'
    assert fixes == ["line 2: closed ( with ')', not ']'", "line 3: closed [ with ']', not ')'"]
    ast.parse(text)


@pytest.mark.parametrize(
    "code",
    [
        "x = (1, 2)\n",  # parses already: nothing to fix
        "x = [1, 2\n",  # never closed: where to close it is a guess
        "def f(:\n    pass\n",  # another syntax error
        "x = (1]\ny = = 2\n",  # a wrong closer and another error: not all fixable
    ],
)
def test_anything_but_wrong_closers_is_left_alone(code: str) -> None:
    assert fix_brackets(code) is None


def test_non_ascii_before_the_closer() -> None:
    assert fix_brackets('é = f("ü"]\n') == ('é = f("ü")\n', ["line 1: closed ( with ')', not ']'"])


def test_the_extractor_hands_over_the_block_that_did_not_parse() -> None:
    with pytest.raises(ExtractionError) as info:
        extract("```python\nprint((1]\n```")
    assert info.value.kind == "syntax_error" and info.value.source == "print((1]\n"
