"""What a request asks of a workbook's sheets: number formats, a frozen header, an auto-filter.

"The visitors column formatted with thousands separators" is met by a cell holding a number (or
a formula) whose Excel number format groups thousands (``#,##0``, ``#,##0.00``,
``"$"#,##0``); "as percentages" by one whose format ends in ``%``; "in currency format" by one
whose format shows a currency sign (``$``, ``€``, ``£``, ``[$€-...]``) or is Excel's
accounting format. Only in a workbook: elsewhere a number's look is its text, which other
checks read. "The header row frozen" (or "freeze the top row", "frozen panes") needs a sheet
with frozen panes; "an auto-filter" (or "filter buttons", "filters on the header") a sheet
with an auto-filter or an Excel table.
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


_VIEWS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("frozen", "the header row is frozen",
     re.compile(r"\bfr(?:ozen|eeze)\b[\w\s-]{0,30}\b(?:header|top row|first row|panes?)\b"
                r"|\b(?:header|top row|first row)[\w\s-]{0,20}\bfr(?:ozen|eeze)\b")),
    ("autofilter", "the sheet has an auto-filter",
     re.compile(r"\bauto[- ]?filters?\b|\bfilter (?:buttons|arrows|drop-?downs)\b"
                r"|\bfilters? on (?:the |its )?(?:header|columns)\b")),
)  # fmt: skip


def parse(lower: str, formats: Sequence[str]) -> list[Requirement]:
    """The number formats and sheet settings ``lower`` (the request, lower case) asks of a
    workbook."""
    if "xlsx" not in formats:
        return []
    reqs = [
        Requirement("numformat", text, {"format": name})
        for name, text, pattern in _ASKED
        if pattern.search(lower)
    ]
    return reqs + [Requirement(name, text) for name, text, p in _VIEWS if p.search(lower)]


def check(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome | None:
    """The outcome of a ``numformat``, ``frozen`` or ``autofilter`` requirement; None for any
    other."""
    books = [f for f in facts.values() if f.get("kind") == "xlsx"]
    if req.kind in ("frozen", "autofilter"):
        ok = not books or any(f.get(req.kind) for f in books)
        return Outcome(
            req,
            ok,
            ""
            if ok
            else f"no sheet has {'frozen panes' if req.kind == 'frozen' else 'an auto-filter'}",
        )
    if req.kind != "numformat":
        return None
    seen = sorted(
        {x for f in books for s in f.get("sheets", []) for x in s.get("number_formats", [])}
    )
    if not books:
        return Outcome(req, True, "no workbook")
    ok = any(_MATCHES[req.params["format"]].search(x) for x in seen)
    shown = ", ".join(repr(x) for x in seen[:6]) or "only the default"
    return Outcome(req, ok, "" if ok else f"the numbers' formats are {shown}")
