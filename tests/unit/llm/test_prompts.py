"""Prompt rendering: the sandbox contract, neutral format notes, the request, overrides, the
token budget."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from promptkiln.errors import UsageError
from promptkiln.llm.generate import Message
from promptkiln.llm.plan import ASK_PLAN, PLAN_NOTE
from promptkiln.llm.prompts import (
    FORMATS,
    GENERIC_FORMATS,
    STDERR_TAIL_CHARS,
    estimate_tokens,
    normalize_format,
    render_system,
    repair_message,
    tail,
)
from promptkiln.llm.request_prompt import render_messages, render_request

PROFILE = "- inputs/sales.csv: 12 rows, columns:\n  region (text; 4 values: North 3, South 3)"
LIBRARIES = (
    "reportlab", "python-docx", "python-pptx", "openpyxl", "XlsxWriter", "pandas", "numpy",
    "matplotlib", "seaborn", "pillow", "pypdf", "pdfplumber", "scipy",
)  # fmt: skip


def test_messages_are_system_then_user() -> None:
    messages = render_messages("  a bar chart of sales  ", ["png"], PROFILE)
    assert [m.role for m in messages] == ["system", "user"]
    assert all(isinstance(m, Message) for m in messages)
    assert messages[1].content.startswith("a bar chart of sales\n\nInput files:\n- inputs/")
    assert messages[1].content.endswith("region (text; 4 values: North 3, South 3)\n\nOutput: .png")


def test_system_prompt_states_the_contract() -> None:
    system = render_system(["pdf"])
    assert "/home/user/work" in system
    assert "./inputs/" in system
    assert "returned to the user" in system
    assert "No network" in system and "pip install" in system
    assert "Python 3.11" in system
    for library in LIBRARIES:
        assert library in system, library
    assert "exactly one ```python" in system
    assert "summary" in system
    assert "$" not in system  # every placeholder was filled


@pytest.mark.parametrize("formats", [["png"], ["pdf"], ["xlsx", "csv"], ["pptx"], ["docx"]])
def test_the_system_message_is_the_same_for_any_request_of_the_same_formats(
    formats: list[str],
) -> None:
    """The stable prefix: two different requests, different inputs, the same first message
    (a model server's prompt cache then serves it), with and without a plan."""
    for plan in (False, True):
        one = render_messages("a bar chart of revenue per region, highest first", formats,
                              PROFILE, plan=plan)  # fmt: skip
        two = render_messages("an invoice for ACME, one slide per city, 3 pages", formats,
                              "", existing_files=["old.pdf"], plan=plan)  # fmt: skip
        assert one[0] == two[0]
        assert one[1] != two[1]
        assert (PLAN_NOTE in one[0].content) is plan


def test_notes_decide_no_transformation_and_hold_no_sample_data() -> None:
    """A note teaches an API with neutral names: no rows of sample data to copy, no grouping,
    totals or statistics picked for the model."""
    system = render_system(list(FORMATS))
    every = "\n".join(render_system([f]) for f in FORMATS)
    for text in (system, every):
        assert "pd.DataFrame(" not in text
        assert "groupby(label" not in text and ".sum(numeric_only" not in text
        assert not re.search(r"\b(Region|Revenue|North|Item A)\b", text)
        assert "$" not in text


def test_the_request_carries_the_profile_the_earlier_files_and_the_plan_ask() -> None:
    user = render_request("a chart", ["png"], PROFILE + "\x1b[31m", existing_files=["a.png"])
    assert "Input files:\n- inputs/sales.csv: 12 rows" in user
    assert "\x1b" not in user
    assert "earlier steps are in ./inputs/: a.png" in user
    assert ASK_PLAN not in user
    planned = render_request("a chart", ["png"], PROFILE, plan=True)
    assert planned.endswith(f"Output: .png\n\n{ASK_PLAN}")
    assert "Input files" not in render_request("a chart", ["png"])


@pytest.mark.parametrize(
    ("fmt", "needles"),
    [
        ("png", ['matplotlib.use("Agg")', "bbox_inches", "dpi"]),
        ("pdf", ["SimpleDocTemplate", "Paragraph", "Table", "canvas"]),
        ("xlsx", ["formula", "=SUM("]),
        ("pptx", ["CategoryChartData", "XL_CHART_TYPE"]),
        ("docx", ["add_picture", "Inches"]),
        ("csv", ["index=False", "csv"]),
        ("pdf", ["PageBreak()"]),
        ("pptx", ["notes_text_frame"]),
        ("json", ["indent=2"]),
        ("svg", ["svg.fonttype"]),
    ],
)
def test_format_notes(fmt: str, needles: list[str]) -> None:
    system = render_system([fmt])
    for needle in needles:
        assert needle in system, (fmt, needle)
    assert f".{fmt}" in system


def test_every_format_has_a_builtin_template() -> None:
    package = resources.files("promptkiln.templates")
    for name in (*FORMATS, "system", "generic"):
        assert package.joinpath(f"{name}.md").is_file(), name


def test_several_formats_each_once() -> None:
    system = render_system(["pdf", "PNG", ".png", "jpeg"])
    assert "Create the requested output: .pdf, .png, .jpg." in system
    assert system.count("PNG (.png)") == 1
    assert "JPEG (.jpg)" in system


def test_generic_format() -> None:
    system = render_system(["tsv"])
    assert ".tsv file" in system
    assert "$ext" not in system


@pytest.mark.parametrize("bad", ["pfd", "exe", "../x", ""])
def test_unknown_format_lists_the_supported_ones(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        normalize_format(bad)
    assert "pdf, xlsx, docx" in str(info.value)


def test_no_formats_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        render_messages("x", [], [])


def test_aliases() -> None:
    assert normalize_format(".JPEG") == "jpg"
    assert normalize_format("htm") == "html"
    assert set(GENERIC_FORMATS).isdisjoint(FORMATS)


def test_user_templates_override_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "png.md").write_text("MY PNG RULES: always 1024x768.\n", encoding="utf-8")
    system = render_system(["png", "pdf"], templates_dir=tmp_path)
    assert "MY PNG RULES" in system
    assert "bbox_inches" not in system  # the built-in png note was replaced
    assert "SimpleDocTemplate" in system  # pdf fell back to the built-in one
    assert "/home/user/work" in system  # so did system.md


def test_user_system_template(tmp_path: Path) -> None:
    (tmp_path / "system.md").write_text("House rules. Make $formats.\n$notes\n", encoding="utf-8")
    system = render_system(["csv"], templates_dir=tmp_path)
    assert system.startswith("House rules. Make .csv.")
    assert "index=False" in system


def test_unreadable_user_template_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "csv.md").write_bytes(b"\xff\xfe\xfa not utf-8")
    with pytest.raises(UsageError, match=r"csv\.md"):
        render_system(["csv"], templates_dir=tmp_path)


def test_token_budget() -> None:
    # The bundled model has ~8k tokens of context and writes ~10 tokens/s: keep the prompt lean.
    typical = render_system(["png"])
    assert estimate_tokens(typical) < 650
    # the plan note's five examples (~220 tokens) sit in the prefix the server keeps cached
    assert estimate_tokens(render_system(["png"], plan=True)) < 1050
    heavy = render_system(["pdf", "xlsx", "docx", "pptx", "png", "csv"], plan=True)
    assert estimate_tokens(heavy) < 1500


def test_repair_message_has_problem_and_stderr_tail() -> None:
    stderr = "noise\n" * 2000 + "Traceback (most recent call last):\nNameError: name 'pd' x\n"
    message = repair_message("the script exited with status 1", stderr=stderr)
    assert message.role == "user"
    assert "the script exited with status 1" in message.content
    assert "NameError: name 'pd' x" in message.content
    assert len(message.content) < STDERR_TAIL_CHARS + 400
    assert "complete corrected script" in message.content
    assert "exactly one ```python" in message.content


def test_repair_message_without_stderr() -> None:
    message = repair_message("no .xlsx file was written")
    assert "stderr" not in message.content
    assert "no .xlsx file was written" in message.content


def test_tail_strips_escapes_and_starts_at_a_line() -> None:
    text = "\x1b[31mred\x1b[0m\r\n" + "".join(f"line {i}\n" for i in range(1000))
    cut = tail(text, 100)
    assert len(cut) <= 100
    assert cut.startswith("line ")
    assert cut.endswith("line 999")
    assert tail("\x1b[1mbold\x1b[0m") == "bold"
