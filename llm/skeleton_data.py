"""``$data`` in a format skeleton: where the skeleton's table comes from.

Small models copy a note's skeleton almost verbatim and change little more than the title. So
the skeleton is made to be right when copied: it reads the request's first tabular input as
``df`` and names the two columns the request is about (``label``, ``value``) — the columns the
prompt mentions, else the first text column and the last numeric one — or, with no input, uses
sample data the model is told to replace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class InputSummary(Protocol):
    """What these lines read of one input (:class:`promptkiln.llm.prompts.InputSummary`, which
    imports this module, so it is described here rather than imported)."""

    @property
    def name(self) -> str: ...
    @property
    def header(self) -> str | None: ...
    @property
    def numeric(self) -> tuple[str, ...]: ...


SAMPLE_DATA = (
    'df = pd.DataFrame({"Region": ["North", "South", "East"], "Revenue": [1200.0, 950.0, 1430.0]})'
    "  # sample table: use the request's data, or leave table and chart out if it has none\n"
    'label, value = "Region", "Revenue"  # the text column and the number column'
)
#: With no input, for an invoice, a receipt or a quote: the request's items and their totals.
INVOICE_DATA = (
    'df = pd.DataFrame({"Item": ["Item A", "Item B"], "Quantity": [2, 1], "Unit price": [10.0, 25.5]})'
    "  # sample lines: put the request's items here\n"
    'df["Line total"] = df["Quantity"] * df["Unit price"]  # quantity x unit price, per line\n'
    'label, value = "Item", "Line total"  # the text column and the number column'
)
_INVOICE = re.compile(r"\b(invoices?|receipts?|line totals?|unit prices?|price quotes?)\b")
_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".xlsx": "read_excel", ".json": "read_json"}


def _is_table(item: InputSummary) -> bool:
    """Whether pandas reads this input as a table (the skeletons' ``df``)."""
    return Path(item.name).suffix.lower() in _READERS


def _columns(item: InputSummary) -> list[str]:
    """The column names of a table input's header row, in order (empty ones included)."""
    sep = "\t" if item.name.lower().endswith(".tsv") else ","
    return [n.strip() for n in (item.header or "").split(sep)]


_GENERIC = "label, value = df.columns[0], df.columns[-1]  # the first and the last column"


#: ``$totals``: the input table totalled per label (documents and charts), when there is one.
TOTALS = (
    "df = df.groupby(label, as_index=False).sum(numeric_only=True)  # one row per label, totals"
)


def totals_line(inputs: Sequence[InputSummary]) -> str:
    """``$totals``: a real input is summarised per label; sample data is left as it is."""
    return TOTALS if any(_is_table(i) for i in inputs) else ""


#: Statistics a request may name, as pandas' aggregation names, in the order they are named.
_STATISTICS = {
    "count": "count", "mean": "mean", "average": "mean", "median": "median",
    "minimum": "min", "min": "min", "lowest": "min", "maximum": "max", "max": "max",
    "highest": "max", "std": "std", "standard deviation": "std",
}  # fmt: skip
_STAT_WORDS = re.compile(r"\b(" + "|".join(sorted(_STATISTICS, key=len, reverse=True)) + r")\b")


#: ``$headline``: the sentence above a document's table (pdf, docx, pptx).
HEADLINE = 'f"Total {value}: {df[value].sum():,.2f}"'
STATISTICS_HEADLINE = (
    'f"{value}: " + ", ".join(f"{s} {v:,.2f}" for s, v in zip(df[label], df[value]))'
)


INVOICE_HEADLINE = 'f"Grand total: {df[value].sum():,.2f}"'
#: ``$headline`` of a document with no data: a paragraph of the request's own words.
TEXT_HEADLINE = '"Paragraph text."'


def headline(totals: str, data: str = "", *, with_data: bool = True) -> str:
    """``$headline``: the total of the value column (an invoice's grand total), the
    statistics when ``$totals`` made the table one row per statistic (a sum of a count and a
    mean means nothing), or plain text in a document with no data."""
    if not with_data:
        return TEXT_HEADLINE
    if 'rename_axis("statistic")' in totals:
        return STATISTICS_HEADLINE
    return INVOICE_HEADLINE if data == INVOICE_DATA else HEADLINE


#: A document request that shows data: a table, a chart, figures, an invoice.
_DATA_WORDS = re.compile(
    r"\b(tables?|charts?|graphs?|plots?|figures?|pictures?|images?|diagrams?|data|dataset|"
    r"statistics|numbers|totals?|revenue|sales|invoices?|receipts?|quotes?|budgets?|kpis?|"
    r"metrics|prices?|costs?|amounts?)\b"
)
#: Numbers that count a document's parts ("a 3-page PDF", "page 2", "Section 5"), not data.
_PART_NUMBERS = re.compile(
    r"\b\d+[- ]?(pages?|slides?|sections?|bullets?|points?|paragraphs?)\b"
    r"|\b(pages?|slides?|sections?|chapters?|steps?|parts?) \d+\b",
    re.IGNORECASE,
)
_DATA_BLOCK = re.compile(r"^#\[data\]\n.*?^#\[/data\]\n", re.M | re.S)
_DATA_MARKER = re.compile(r"^#\[/?data\]\n", re.M)
_DATA_WORDS_INLINE = re.compile(r"\[data:([^\]]*)\]")


def wants_data(inputs: Sequence[InputSummary], prompt: str) -> bool:
    """Whether a document should show data (a table, a chart): it has a tabular input, its
    prompt names a table, a chart or figures, or it states three or more numbers. A letter, a
    memo or an essay does not; its skeleton leaves the sample table and chart out, which small
    models otherwise copy into it."""
    if any(_is_table(i) for i in inputs):
        return True
    if _DATA_WORDS.search(prompt.lower()) or _SLIDE_PER_ROW.search(prompt.lower()):
        return True
    return len(re.findall(r"\d+(?:[.,]\d+)?", _PART_NUMBERS.sub(" ", prompt))) >= 3


def data_blocks(note: str, with_data: bool) -> str:
    """A format note with its ``#[data]`` … ``#[/data]`` blocks and ``[data:…]`` words kept
    (markers dropped) or left out."""
    if with_data:
        return _DATA_WORDS_INLINE.sub(r"\1", _DATA_MARKER.sub("", note))
    return _DATA_WORDS_INLINE.sub("", _DATA_BLOCK.sub("", note))


def statistics_line(inputs: Sequence[InputSummary], prompt: str) -> str:
    """``$totals`` when the request asks for two or more statistics of a real input's column
    ("the count, mean, min and max of the score"): the table becomes one row per statistic,
    in the order the prompt names them, instead of one row per label."""
    if not any(_is_table(i) for i in inputs):
        return ""
    named = list(dict.fromkeys(_STATISTICS[w] for w in _STAT_WORDS.findall(prompt.lower())))
    if len(named) < 2:
        return ""
    listed = ", ".join(f'"{n}"' for n in named)
    return (
        f'df = df[value].agg([{listed}]).rename_axis("statistic").reset_index()'
        "  # one row per statistic\n"
        'label = "statistic"'
    )


def data_lines(inputs: Sequence[InputSummary], prompt: str = "") -> str:
    """The skeleton's first lines: ``df`` from the first tabular input (or sample data) and
    ``label, value``: the columns of that table the request is about."""
    for item in inputs:
        suffix = Path(item.name).suffix.lower()
        reader = _READERS.get(suffix)
        if reader is None or not re.fullmatch(r"[\w .-]+", item.name):
            continue
        sep = ', sep="\\t"' if suffix == ".tsv" else ""
        columns = f"  # columns: {item.header}" if item.header else ""
        read = f'df = pd.{reader}("inputs/{item.name}"{sep}){columns}'[:400]
        return f"{read}\n{_label_value(item, prompt)}"
    return INVOICE_DATA if _INVOICE.search(prompt.lower()) else SAMPLE_DATA


def _label_value(item: InputSummary, prompt: str) -> str:
    """``label, value = "region", "revenue"`` for the columns the prompt mentions."""
    if not item.header or not item.numeric:
        return _GENERIC
    names = [n for n in _columns(item) if n]
    numeric = [n for n in names if n in item.numeric]
    text = [n for n in names if n not in item.numeric]
    if not numeric or not text or any('"' in n or "\\" in n for n in names):
        return _GENERIC
    words = prompt.lower()

    def mentioned(columns: list[str]) -> list[str]:
        found = [(words.find(c.lower()), c) for c in columns if _named(c, words)]
        return [c for _, c in sorted(found)]

    label = (mentioned(text) or text)[0]
    value = (mentioned(numeric) or numeric[-1:])[0]
    return f'label, value = "{label}", "{value}"  # the columns this request is about'


#: A request for each row's share of the total: "each region's share, as a percentage".
_SHARE = re.compile(r"\b(share|percent(age)?|proportion|ratio)\b|%")
#: A request for an average or a total across each row: "an Average column for each student".
_ROW_AVERAGE = re.compile(
    r"\b(average|mean)\b.*\b(each|every|per|row)\b|\b(each|every|per)\b.*\b(average|mean)\b"
)
_ROW_TOTAL = re.compile(r"\brow totals?\b|\btotals? (for|of) (each|every)\b")


def row_formula_lines(inputs: Sequence[InputSummary], prompt: str = "") -> str:
    """``$rowformula`` (xlsx): a column with one formula per row, when the request asks for a
    value per row: each row's share of the Total row (as a percentage), or an average or a sum
    across the input's number columns (``=AVERAGE(B2:D2)``) when it has several."""
    words = prompt.lower()
    if _SHARE.search(words):
        return (
            "extra = ws.max_column + 1  # a formula column: each row's share of the Total row\n"
            'ws.cell(row=1, column=extra, value="Share")\n'
            "for r in range(2, last + 1):\n"
            '    cell = ws.cell(row=r, column=extra, value=f"={col}{r}/{col}${last + 1}")\n'
            '    cell.number_format = "0.0%"'
        )
    if _ROW_AVERAGE.search(words):
        func, title = "AVERAGE", "Average"
    elif _ROW_TOTAL.search(words):
        func, title = "SUM", "Row total"
    else:
        return ""
    span = _numeric_span(inputs)
    if span is None:
        return ""
    first, final = span
    return (
        f"extra = ws.max_column + 1  # a formula column: one {func} per row\n"
        f'ws.cell(row=1, column=extra, value="{title}")\n'
        "for r in range(2, last + 1):\n"
        f'    ws.cell(row=r, column=extra, value=f"={func}({first}{{r}}:{final}{{r}})")'
    )


def _stated_count(prompt: str, fmt: str, kind: str) -> int:
    """The page or slide count the prompt states for ``fmt`` (the requirement rule's reading),
    or 0."""
    from promptkiln.checks.requirements import parse

    return next((int(r.params["n"]) for r in parse(prompt, [fmt]) if r.kind == kind), 0)


def pages_lines(prompt: str) -> str:
    """``$pages`` (pdf): one heading and text per page, a PageBreak() between them, when the
    request states a page count of two or more ("a 3-page PDF")."""
    n = _stated_count(prompt, "pdf", "pages")
    if not 2 <= n <= 20:
        return ""
    headings = ", ".join(f'"Heading of page {i}"' for i in range(1, n + 1))
    return (
        f"pages = [{headings}]  # the {n} pages asked for\n"
        "for i, heading in enumerate(pages):\n"
        "    if i:\n"
        "        story.append(PageBreak())  # ends the page before\n"
        '    story.append(Paragraph(heading, styles["Heading1"]))\n'
        '    story.append(Paragraph("The text of this page.", styles["Normal"]))'
    )


#: "one slide per region", "a slide for each product", "each month on its own slide".
_SLIDE_PER_ROW = re.compile(r"\bslides? (?:per|for (?:each|every))\b|\b(?:its|their) own slides?\b")


def slide_per_row_lines(prompt: str) -> str:
    """``$perrow`` (pptx): a slide per row of the table, titled with its label, when the
    request asks for one slide per something."""
    if not _SLIDE_PER_ROW.search(prompt.lower()):
        return ""
    return (
        "for _, r in df.iterrows():  # one slide per row: r[label] is its name\n"
        "    slide = prs.slides.add_slide(prs.slide_layouts[1])\n"
        "    slide.shapes.title.text = str(r[label])\n"
        "    body = slide.placeholders[1].text_frame\n"
        '    body.text = f"{value}: {r[value]:,.2f}"\n'
        "    for column in [c for c in df.columns if c not in (label, value)][:6]:\n"
        '        body.add_paragraph().text = f"{column}: {r[column]}"\n'
        '    slide.notes_slide.notes_text_frame.text = "Speaker notes for this slide."'
    )


def slides_lines(prompt: str, *, with_data: bool) -> str:
    """``$slides`` (pptx, a deck with no data): the content slides after the skeleton's first
    two, when the request states a slide count ("a 4-slide deck"): a title and bullets each."""
    extra = _stated_count(prompt, "pptx", "slides") - 2 if not with_data else 0
    if not 1 <= extra <= 18:
        return ""
    titles = ", ".join(f'"Title of slide {i}"' for i in range(3, extra + 3))
    return (
        f"for title in [{titles}]:  # the other slides asked for\n"
        "    slide = prs.slides.add_slide(prs.slide_layouts[1])\n"
        "    slide.shapes.title.text = title\n"
        "    body = slide.placeholders[1].text_frame\n"
        '    body.text = "First point"\n'
        '    body.add_paragraph().text = "Second point"\n'
        '    slide.notes_slide.notes_text_frame.text = "Speaker notes for this slide."'
    )


def _numeric_span(inputs: Sequence[InputSummary]) -> tuple[str, str] | None:
    """The column letters of the first and the last number column of the first tabular input,
    when it has two or more of them."""
    item = next((i for i in inputs if _is_table(i)), None)
    if item is None or not item.header:
        return None
    at = [i for i, n in enumerate(_columns(item)) if n in item.numeric]
    if len(at) < 2 or at[-1] >= 26:
        return None
    return chr(ord("A") + at[0]), chr(ord("A") + at[-1])


def _named(column: str, words: str) -> bool:
    stem = re.escape(column.lower().rstrip("s"))
    return re.search(rf"\b{stem}(s|es)?\b", words) is not None
