"""Prompt rendering: the sandbox contract, format notes, inputs, overrides, the token budget."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from promptkiln.errors import UsageError
from promptkiln.llm.generate import Message
from promptkiln.llm.prompts import (
    FORMATS,
    GENERIC_FORMATS,
    STDERR_TAIL_CHARS,
    InputSummary,
    estimate_tokens,
    normalize_format,
    render_system,
    repair_message,
    summarize_inputs,
    tail,
)
from promptkiln.llm.request_prompt import render_messages
from promptkiln.llm.skeleton_data import (
    INVOICE_DATA,
    SAMPLE_DATA,
    data_lines,
    pages_lines,
    row_formula_lines,
    slide_per_row_lines,
    statistics_line,
    wants_data,
)
from promptkiln.sandbox.base import InputFile


def rendered(
    formats: list[str],
    inputs: list[InputSummary] | tuple[InputSummary, ...] = (),
    *,
    prompt: str = "a request",
    **options: object,
) -> str:
    """Everything the model reads for a request: the system prompt, then the request's message."""
    messages = render_messages(prompt, formats, inputs, **options)  # type: ignore[arg-type]
    return "\n".join(m.content for m in messages)


SALES = InputSummary.from_bytes("sales.csv", b"\xef\xbb\xbfregion,month,revenue\nnorth,1,2\n")
LIBRARIES = (
    "reportlab", "python-docx", "python-pptx", "openpyxl", "XlsxWriter", "pandas", "numpy",
    "matplotlib", "seaborn", "pillow", "pypdf", "pdfplumber", "scipy",
)  # fmt: skip


def test_messages_are_system_then_user() -> None:
    messages = render_messages("  a bar chart of sales  ", ["png"], [SALES])
    assert [m.role for m in messages] == ["system", "user"]
    assert all(isinstance(m, Message) for m in messages)
    assert messages[1].content.startswith("a bar chart of sales\n")
    assert messages[1].content.endswith("Output: .png")


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


def test_inputs_are_listed_with_size_and_csv_header() -> None:
    other = InputSummary.from_bytes("logo.png", b"\x89PNG" + b"\x00" * 2044)
    system = rendered(["pdf"], [SALES, other])
    assert "inputs/sales.csv (" in system
    assert "header: region,month,revenue" in system  # the BOM is gone
    assert "inputs/logo.png (2.0 KB)" in system
    assert "inputs/logo.png (2.0 KB), header" not in system


def test_a_csv_input_shows_its_row_count_and_first_rows_and_is_read_as_df() -> None:
    data = b"region,revenue\nNorth,1200\nSouth,950\nEast,1430\n"
    system = rendered(["pdf"], [InputSummary.from_bytes("sales.csv", data)])
    assert "header: region,revenue; 3 data rows, the first: North,1200 | South,950" in system
    assert 'df = pd.read_csv("inputs/sales.csv")  # columns: region,revenue' in system
    assert 'label, value = "region", "revenue"' in system
    assert SAMPLE_DATA not in system


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("the total revenue and the revenue per region", '"region", "revenue"'),
        ("units sold per product", '"product", "units"'),
        ("a summary of the file", '"date", "revenue"'),  # first text column, last number
    ],
)
def test_the_skeleton_columns_are_the_ones_the_prompt_names(prompt: str, expected: str) -> None:
    csv = b"date,region,product,units,revenue\n2024-01-02,North,Widget,3,120.5\n"
    lines = data_lines([InputSummary.from_bytes("sales.csv", csv)], prompt)
    assert f"label, value = {expected}" in lines


GRADES = b"student,test1,test2,test3\nAna,80,85,80\nBen,70,75,72\n"


@pytest.mark.parametrize(
    ("prompt", "csv", "expected"),
    [
        ("an Average column with an AVERAGE formula for each student", GRADES,
         'value=f"=AVERAGE(B{r}:D{r})"'),
        ("a row total for every student", GRADES, 'value=f"=SUM(B{r}:D{r})"'),
        ("each region's share of the revenue, as a percentage", b"region,revenue\nN,1\n",
         'value=f"={col}{r}/{col}${last + 1}"'),
        ("the share of each region", None, 'value=f"={col}{r}/{col}${last + 1}"'),
    ],
)  # fmt: skip
def test_a_value_per_row_puts_a_formula_column_in_the_xlsx_skeleton(
    prompt: str, csv: bytes | None, expected: str
) -> None:
    inputs = [InputSummary.from_bytes("t.csv", csv)] if csv else []
    system = rendered(["xlsx"], inputs, prompt=prompt)
    assert expected in system and "$rowformula" not in system
    assert row_formula_lines(inputs, prompt) in system


@pytest.mark.parametrize(
    "prompt",
    [
        "Workbook with a Summary sheet holding the total and the average revenue",
        "monthly budget",
        "revenue and units per region",
    ],
)
def test_without_a_value_per_row_the_xlsx_skeleton_has_no_formula_column(prompt: str) -> None:
    system = rendered(["xlsx"], [InputSummary.from_bytes("t.csv", GRADES)], prompt=prompt)
    assert "extra = ws.max_column" not in system and "$rowformula" not in system
    assert row_formula_lines([], prompt) == ""


@pytest.mark.parametrize(
    ("prompt", "n"),
    [("A 3-page PDF report", 3), ("a PDF of at least 5 pages", 5), ("a one-page PDF", 0),
     ("a PDF summary", 0), ("a 40-page PDF", 0)],
)  # fmt: skip
def test_a_stated_page_count_puts_that_many_pages_in_the_pdf_skeleton(prompt: str, n: int) -> None:
    system = rendered(["pdf"], prompt=prompt)
    assert "$pages" not in system
    assert system.count('"Heading of page ') == n
    assert ("story.append(PageBreak())  # ends the page before" in system) == bool(n)
    assert pages_lines(prompt) in system


@pytest.mark.parametrize(
    ("prompt", "stats"),
    [
        ("a table of the count, mean, min and max of the score", '["count", "mean", "min", "max"]'),
        ("the highest and the average score", '["max", "mean"]'),
        ("the median and standard deviation", '["median", "std"]'),
        ("the total revenue per region", None),
        ("the average score", None),  # one statistic: a headline, not a table of them
    ],
)
def test_statistics_named_by_the_prompt_become_the_documents_table(
    prompt: str, stats: str | None
) -> None:
    scores = [InputSummary.from_bytes("s.csv", b"student,score\nAna,71\n")]
    system = rendered(["pdf"], scores, prompt=prompt)
    if stats is None:
        assert statistics_line(scores, prompt) == "" and ".agg([" not in system
    else:
        assert f"df = df[value].agg({stats})" in system and "groupby" not in system
        assert "Total {value}" not in system and "$headline" not in system
    assert statistics_line([], prompt) == ""  # sample data is not summarised


@pytest.mark.parametrize(
    ("prompt", "wanted"),
    [
        ("A deck with one slide per region in the CSV", True),
        ("a presentation with a slide for each product", True),
        ("each month on its own slide", True),
        ("a 3-slide deck about the launch", False),
        ("slides about revenue per region", False),
    ],
)
def test_a_slide_per_row_is_in_the_pptx_skeleton_when_asked(prompt: str, wanted: bool) -> None:
    system = rendered(["pptx"], prompt=prompt)
    assert "$perrow" not in system
    assert ("for _, r in df.iterrows():  # one slide per row" in system) == wanted
    assert slide_per_row_lines(prompt) in system


@pytest.mark.parametrize("fmt", ["pdf", "docx", "xlsx"])
def test_an_invoice_without_inputs_gets_lines_with_their_totals(fmt: str) -> None:
    system = rendered([fmt], prompt="An invoice for ACME Corp: Widget 2 x $10.00")
    assert INVOICE_DATA in system and SAMPLE_DATA not in system
    assert INVOICE_DATA not in rendered([fmt], prompt="a report on revenue")


@pytest.mark.parametrize(
    ("prompt", "with_data"),
    [
        ("A one-page formal letter as PDF from Jane Doe to John Smith on 12 March 2025", False),
        ("A 5-page PDF with one section per page, headed 'Section 1' to 'Section 5'", False),
        ("A memo as a Word document to All Staff about the closure on 24 December", False),
        ("A PDF report with a chart of the visitors", True),
        ("Workbook-like table of Q1 2.1, Q2 2.8, Q3 3.2 as a Word document", True),
        ("A deck on revenue: Q1 2.1, Q2 2.8, Q3 3.2, Q4 3.9", True),
    ],
)
def test_a_document_without_data_gets_a_skeleton_without_a_table_or_chart(
    prompt: str, with_data: bool
) -> None:
    assert wants_data([], prompt) == with_data
    for fmt in ("pdf", "docx", "pptx"):
        system = rendered([fmt], prompt=prompt)
        assert "#[" not in system and "[data:" not in system
        assert ("pd.DataFrame(" in system) == with_data, fmt
        assert ("has no table of data" in system) == (not with_data), fmt
    assert wants_data([InputSummary.from_bytes("t.csv", b"a,b\n1,2\n")], prompt)


@pytest.mark.parametrize(
    ("prompt", "more"),
    [("A 3-slide deck: a title slide, then Highlights, then Next Steps", 1),
     ("a 5-slide presentation about the launch", 3), ("a 2-slide deck about us", 0),
     ("a 4-slide deck with a chart of revenue", 0)],  # with data: the chart slide counts
)  # fmt: skip
def test_a_stated_slide_count_puts_the_other_slides_in_the_pptx_skeleton(
    prompt: str, more: int
) -> None:
    system = rendered(["pptx"], prompt=prompt)
    assert "$slides" not in system
    assert system.count('"Title of slide ') == more


def test_without_inputs_the_skeletons_use_sample_data() -> None:
    system = rendered(["pdf", "png"], prompt="revenue per region, as a chart and a table")
    assert system.count(SAMPLE_DATA) == 1 and "read_csv" not in system


def test_no_inputs_says_none() -> None:
    assert "Input files: none." in rendered(["csv"], [])


def test_summaries_from_input_files() -> None:
    files = [InputFile("a.tsv", b"x\ty\n1\t2\n"), InputFile("b.bin", b"\x00" * 10)]
    assert summarize_inputs(files) == [
        InputSummary("a.tsv", 8, "x\ty", rows=1, sample=("1\t2",), numeric=("x", "y")),
        InputSummary("b.bin", 10, None),
    ]


def test_hostile_csv_header_is_one_printable_line() -> None:
    data = b"a,b\x1b[31m,\x07c" + b"d" * 5000 + b"\nrow\n"
    summary = InputSummary.from_bytes("x.csv", data)
    assert summary.header is not None
    assert "\x1b" not in summary.header and "\x07" not in summary.header
    assert len(summary.header) <= 300


@pytest.mark.parametrize(
    ("fmt", "needles"),
    [
        ("png", ['matplotlib.use("Agg")', "bbox_inches", "dpi"]),
        ("pdf", ["SimpleDocTemplate", "Paragraph", "Table", "canvas"]),
        ("xlsx", ["formula", "=SUM("]),
        ("pptx", ["CategoryChartData", "XL_CHART_TYPE"]),
        ("docx", ["add_picture", "Inches"]),
        ("csv", ["index=False", "csv"]),
        ("json", ["indent=2"]),
        ("svg", ["svg.fonttype"]),
    ],
)
def test_format_notes(fmt: str, needles: list[str]) -> None:
    system = rendered([fmt], prompt="a report of the revenue with a chart")
    for needle in needles:
        assert needle in system, (fmt, needle)
    assert f".{fmt}" in system


def test_every_format_has_a_builtin_template() -> None:
    package = resources.files("promptkiln.templates")
    for name in (*FORMATS, "system", "generic"):
        assert package.joinpath(f"{name}.md").is_file(), name


def test_several_formats_each_once() -> None:
    system = rendered(["pdf", "PNG", ".png", "jpeg"])
    assert "Create the requested output: .pdf, .png, .jpg." in system
    assert system.count("PNG (.png)") == 1
    assert "JPEG (.jpg)" in system


def test_generic_format() -> None:
    system = rendered(["tsv"])
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
    system = rendered(["png", "pdf"], templates_dir=tmp_path)
    assert "MY PNG RULES" in system
    assert "bbox_inches" not in system  # the built-in png note was replaced
    assert "SimpleDocTemplate" in system  # pdf fell back to the built-in one
    assert "/home/user/work" in system  # so did system.md


def test_user_system_template(tmp_path: Path) -> None:
    (tmp_path / "system.md").write_text("House rules. Make $formats.\n$notes\n", encoding="utf-8")
    system = rendered(["csv"], templates_dir=tmp_path)
    assert system.startswith("House rules. Make .csv.")
    assert "index=False" in system


def test_unreadable_user_template_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "csv.md").write_bytes(b"\xff\xfe\xfa not utf-8")
    with pytest.raises(UsageError, match=r"csv\.md"):
        rendered(["csv"], templates_dir=tmp_path)


def test_existing_files_are_mentioned_only_when_present() -> None:
    assert "earlier steps" not in rendered(["pdf"])
    system = rendered(["pdf"], existing_files=["chart.png", "data.csv"])
    assert "earlier steps" in system and "chart.png, data.csv" in system


def test_token_budget() -> None:
    # The bundled model has ~8k tokens of context and writes ~10 tokens/s: keep the prompt lean.
    typical = rendered(["png"], [SALES])
    assert estimate_tokens(typical) < 650
    heavy = rendered(["pdf", "xlsx", "docx", "pptx", "png", "csv"], [SALES] * 5)
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
