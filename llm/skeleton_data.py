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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptkiln.llm.prompts import InputSummary

SAMPLE_DATA = (
    'df = pd.DataFrame({"Region": ["North", "South", "East"], "Revenue": [1200.0, 950.0, 1430.0]})'
    "  # sample table: use the request's data, or leave table and chart out if it has none\n"
    'label, value = "Region", "Revenue"  # the text column and the number column'
)
_READERS = {".csv": "read_csv", ".tsv": "read_csv", ".xlsx": "read_excel", ".json": "read_json"}
_GENERIC = "label, value = df.columns[0], df.columns[-1]  # the first and the last column"


#: ``$totals``: the input table totalled per label (documents and charts), when there is one.
TOTALS = (
    "df = df.groupby(label, as_index=False).sum(numeric_only=True)  # one row per label, totals"
)


def totals_line(inputs: Sequence[InputSummary]) -> str:
    """``$totals``: a real input is summarised per label; sample data is left as it is."""
    return TOTALS if any(Path(i.name).suffix.lower() in _READERS for i in inputs) else ""


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
    return SAMPLE_DATA


def _label_value(item: InputSummary, prompt: str) -> str:
    """``label, value = "region", "revenue"`` for the columns the prompt mentions."""
    if not item.header or not item.numeric:
        return _GENERIC
    sep = "\t" if item.name.lower().endswith(".tsv") else ","
    names = [n.strip() for n in item.header.split(sep) if n.strip()]
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


def _named(column: str, words: str) -> bool:
    stem = re.escape(column.lower().rstrip("s"))
    return re.search(rf"\b{stem}(s|es)?\b", words) is not None
