"""The pure parts of repair: the stream guard, traceback parsing, hint queries, sampling."""

from __future__ import annotations

import pytest

from promptkiln.llm.stream_guard import StreamGuard
from promptkiln.making.failure import Failure, parse_failure
from promptkiln.making.hints import format_hint, known_trap, parse_answer, query_for
from promptkiln.making.repair import Feedback, repair_message, sampling_for, token_budget


def feed_all(text: str, step: int = 5, **kw: bool) -> StreamGuard:
    guard = StreamGuard(**kw)
    for i in range(0, len(text), step):
        if guard.feed(text[i : i + step]):
            break
    return guard


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("Here:\n```python\nprint(1)\n```\nIt prints 1.\n", "fence"),
        ("~~~py\nx = 1\n~~~\n", "fence"),
        ("````python\nprint('```')\n```\nstill inside\n````\n", "fence"),
        ("```bash\nls\n```\n```python\nx=1\n", None),  # a shell block does not count
        ("<think>\n```python\nx\n```\n</think>\n", None),  # nor a fence while thinking
        ("```python\n" + "x = 1\n" * 30, "repetition"),
        ("```python\n" + "a = 1\nb = 2\nc = 3\n" * 12, "repetition"),
        ("```python\n" + "".join(f"row{i} = [{i}, {i * 2}]\n" for i in range(90)), "repetition"),
        (
            "```python\n" + "".join(f"row{i} = [{i}, {i * 2}]\n" for i in range(60)) + "```\n",
            "fence",
        ),
        ("```python\n" + "x = 1\n" * 10 + "```\n", "fence"),
    ],
)
def test_stream_guard(text: str, stop: str | None) -> None:
    assert feed_all(text).stop == stop


def test_stream_guard_can_be_off() -> None:
    guard = feed_all(
        "```python\n" + "x = 1\n" * 50 + "```\n", stop_at_fence=False, detect_loops=False
    )
    assert guard.stop is None


TRACE = """Traceback (most recent call last):
  File "/home/user/.promptkiln/main.py", line 4, in <module>
    styles.add(ParagraphStyle(name="Title"))
  File "/usr/lib/python3/dist-packages/reportlab/lib/styles.py", line 240, in add
    raise KeyError("Style '%s' already defined in stylesheet" % key)
KeyError: "Style 'Title' already defined in stylesheet"
"""
SCRIPT = "from reportlab.lib.styles import *\nstyles = getSampleStyleSheet()\n\nstyles.add(ParagraphStyle(name='Title'))\n"


def test_parse_failure_finds_the_scripts_own_frame() -> None:
    f = parse_failure(TRACE, SCRIPT)
    assert f == Failure(4, "styles.add(ParagraphStyle(name='Title'))", "KeyError",
                        "\"Style 'Title' already defined in stylesheet\"")  # fmt: skip
    assert known_trap(f) is not None and "NEW name" in (known_trap(f) or "")
    assert parse_failure("just a warning\n", SCRIPT) is None


@pytest.mark.parametrize(
    ("exc", "message", "says"),
    [
        ("UnrecognizedImageError", "", "fig.savefig(buf, format='png')"),  # docx add_picture
        ("UnidentifiedImageError", "cannot identify image file", "buf.seek(0)"),  # PIL
        ("AttributeError", "'int' object has no attribute 'split'", "must be a str"),  # pptx
        ("TypeError", "expected str, got int", "must be a str"),
        ("FileNotFoundError", "[Errno 2] No such file or directory: 'memo.png'", "drawn first"),
        ("NameError", "name 'header' is not defined", "header = the column names"),  # a note's
        ("TypeError", "Value must be a list, tuple, range or generator, or a dict. Supplied value "
         "is <class 'numpy.ndarray'>", "ws.append(list(row))"),  # openpyxl
        ("TypeError", "Document.add_table() missing 1 required positional argument: 'cols'",
         "a DataFrame is not a table"),  # python-docx
    ],
)  # fmt: skip
def test_known_traps_of_the_office_libraries(exc: str, message: str, says: str) -> None:
    hint = known_trap(Failure(3, "x", exc, message))
    assert hint is not None and says in hint


def test_a_name_the_notes_do_not_use_is_not_a_known_trap() -> None:
    assert known_trap(Failure(3, "x", "NameError", "name 'headers' is not defined")) is None


def test_an_attribute_error_of_a_string_is_not_a_known_trap() -> None:
    assert (
        known_trap(Failure(3, "x", "AttributeError", "'str' object has no attribute 'x'")) is None
    )


@pytest.mark.parametrize(
    ("exc", "message", "query"),
    [
        ("AttributeError", "module 'openpyxl.styles' has no attribute 'NumberFormat'",
         {"kind": "module", "owner": "openpyxl.styles", "name": "NumberFormat"}),
        ("AttributeError", "'Worksheet' object has no attribute 'set_col_width'",
         {"kind": "class", "owner": "Worksheet", "name": "set_col_width"}),
        ("ImportError", "cannot import name 'Foo' from 'pptx.util' (/x.py)",
         {"kind": "module", "owner": "pptx.util", "name": "Foo"}),
        ("ModuleNotFoundError", "No module named 'seaborn'",
         {"kind": "toplevel", "owner": "", "name": "seaborn"}),
        ("TypeError", "Document.add_heading() got an unexpected keyword argument 'size'",
         {"kind": "kwarg", "owner": "Document.add_heading", "name": "size"}),
        ("ValueError", "bad value", None),
    ],
)  # fmt: skip
def test_hint_queries(exc: str, message: str, query: dict[str, str] | None) -> None:
    assert query_for(Failure(1, "x", exc, message)) == query


def test_format_hint() -> None:
    q = {"kind": "module", "owner": "openpyxl.styles", "name": "NumberFormat"}
    answer = parse_answer(
        'noise\n@@HINT@@{"close": ["numbers", "NamedStyle"], "where": "openpyxl.styles"}\n'
    )
    assert format_hint(q, answer) == (
        "openpyxl.styles has no 'NumberFormat'; the real names closest to it are: numbers, NamedStyle"
    )
    kw = {"kind": "kwarg", "owner": "Document.add_heading", "name": "size"}
    assert format_hint(kw, {"params": ["text", "level"], "where": "Document.add_heading"}) == (
        "Document.add_heading() takes: text, level — there is no 'size'."
    )
    assert format_hint(q, parse_answer("@@HINT@@not json")) is None


def test_sampling_warms_up_and_budget_fits_the_request() -> None:
    temps = [sampling_for(n, 0.0, stuck=False, seed=n).temperature for n in (1, 2, 3)]
    assert temps == [0.0, 0.3, 0.6]
    assert (sampling_for(2, 0.0, stuck=True, seed=2).temperature or 0) > temps[1]
    assert token_budget(["png"], 0, "a chart", 4096) == 1536
    assert token_budget(["pdf"], 1, "a 5 pages report", 4096) > 1536
    assert token_budget(["pdf", "xlsx", "pptx", "docx", "png"], 4, "x", 2000) == 2000


def test_repair_message_parts() -> None:
    fail = Failure(3, "x['total']", "KeyError", "'total'")
    text = repair_message(Feedback("the script exited with status 1", stderr="Traceback...",
                                   failure=fail, hint="use x.get", repeated_failure=True)).content  # fmt: skip
    assert "line 3 (`x['total']`) raised KeyError: 'total'" in text
    assert "Hint: use x.get" in text and "SAME error on the SAME line" in text
    valid = repair_message(Feedback("x", failure=fail, files_were_valid=True)).content
    assert "wrote the requested files and they were fine" in valid and "stderr" not in valid


def test_a_missing_data_file_still_gets_the_inputs_hint() -> None:
    hint = known_trap(Failure(3, "x", "FileNotFoundError", "No such file: 'sales.csv'"))
    assert hint is not None and "./inputs/" in hint
