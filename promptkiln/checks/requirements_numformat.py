"""Number formats a request asks of a workbook: thousands separators, percentages, currency.

"The visitors column formatted with thousands separators" is met by a cell holding a number (or
a formula) whose Excel number format groups thousands (``#,##0``, ``#,##0.00``,
``"$"#,##0``); "as percentages" by one whose format ends in ``%``; "in currency format" by one
whose format shows a currency sign (``$``, ``€``, ``£``, ``[$€-...]``) or is Excel's
accounting format. Only in a workbook: elsewhere a number's look is its text, which other
checks read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks.requirement import Outcome, Requirement

_ASKED: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("thousands", "numbers formatted with thousands separators",
     re.compile(r"\bthousands?[- ]separat|\bcomma[- ]separated thousands|\bwith commas\b"
                r"|#,##0")),
    ("percent", "numbers formatted as percentages",
     re.compile(r"\b(?:format(?:ted)?|shown|displayed) as (?:a )?percent(?:age)?s?\b"
                r"|\bpercent(?:age)? (?:number )?format\b")),
    ("currency", "numbers formatted as currency",
     re.compile(r"\b(?:format(?:ted)?|shown|displayed) as (?:a )?(?:currency|money|dollars|euros)"
                r"\b|\bcurrency (?:number )?format\b|\baccounting format\b")),
)  # fmt: skip
#: What a number format string shows, per asked format.
_MATCHES: dict[str, re.Pattern[str]] = {
    "thousands": re.compile(r"#,##|#,#0"),
    "percent": re.compile(r"%"),
    "currency": re.compile(r"[$€£¥]|\[\$|_\(|Currency|Accounting"),
}


def parse(lower: str, formats: Sequence[str]) -> list[Requirement]:
    """The number formats ``lower`` (the request, lower case) asks of a workbook."""
    if "xlsx" not in formats:
        return []
    return [
        Requirement("numformat", text, {"format": name})
        for name, text, pattern in _ASKED
        if pattern.search(lower)
    ]


def check(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome | None:
    """The outcome of a ``numformat`` requirement; None for any other."""
    if req.kind != "numformat":
        return None
    books = [f for f in facts.values() if f.get("kind") == "xlsx"]
    seen = sorted(
        {x for f in books for s in f.get("sheets", []) for x in s.get("number_formats", [])}
    )
    if not books:
        return Outcome(req, True, "no workbook")
    ok = any(_MATCHES[req.params["format"]].search(x) for x in seen)
    shown = ", ".join(repr(x) for x in seen[:6]) or "only the default"
    return Outcome(req, ok, "" if ok else f"the numbers' formats are {shown}")
