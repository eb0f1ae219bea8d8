"""Dates and amounts a request states for a document made from the request alone.

"An offer letter ... starting 1 September 2025, with a salary of 58,000 a year": a letter that
leaves out the start date or the salary is not the letter asked for, however well it reads. With
no input files, the request's own dates and amounts are the document's content, so each must be
in it:

* a date written with its month's name or as ISO (``1 September 2025``, ``Sept. 1, 2025``,
  ``2025-09-01``) is met by the same day written any common way (``01/09/2025`` and
  ``09/01/2025`` included: a day-first or month-first reading of it);
* an amount is a number written with a thousands separator, decimals, a currency sign or a
  percent sign, or one of five digits or more (``58,000``, ``$1,200``, ``12.5%``, ``250000``);
  it is met by the same number, rounded as a person would. Sizes (``800x600``, ``1200 pixels``),
  years and small counts ("3 pages") are no amounts.

With input files the request's numbers are as often filters and thresholds ("orders over
1,000") as content, so none is required; nor when the request asks for a chart, whose numbers
are drawn (the content checks judge what a chart shows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from promptkiln.checks.numeric import close, numbers_in
from promptkiln.checks.requirement import Outcome, Requirement

_DOCUMENTS = ("pdf", "docx", "pptx")
#: A request for a chart (its words, lower case): its numbers are the chart's, not the text's.
CHART_REQUEST = re.compile(r"\b(?:chart|graph|plot|diagram|visuali[sz]|pie|histogram|figure)")
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORD = r"(?:st|nd|rd|th)?"
_DAY_FIRST = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I)
_MONTH_FIRST = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASHED = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b")
#: A number that is a size or a count of pages, not content.
_UNIT_AFTER = re.compile(
    r"^\s*(?:x\s*\d|×|px\b|pixels?\b|pt\b|points?\b|dpi\b|pages?\b|slides?\b|sheets?\b"
    r"|rows?\b|columns?\b|words?\b|characters?\b|bullets?\b|inch|cm\b|mm\b)",
    re.I,
)


def dates_in(text: str, *, numeric: bool = False) -> list[tuple[date, str]]:
    """The dates written in ``text``, each with its words; ``numeric`` adds ``01/09/2025``
    read both day-first and month-first."""
    parts: list[tuple[str, int, str, str]] = []  # year, month, day, the words
    parts += [(m[3], _MONTHS[m[2][:3].lower()], m[1], m[0]) for m in _DAY_FIRST.finditer(text)]
    parts += [(m[3], _MONTHS[m[1][:3].lower()], m[2], m[0]) for m in _MONTH_FIRST.finditer(text)]
    parts += [(m[1], int(m[2]), m[3], m[0]) for m in _ISO.finditer(text)]
    if numeric:
        for m in _SLASHED.finditer(text):
            parts += [(m[3], int(m[2]), m[1], m[0]), (m[3], int(m[1]), m[2], m[0])]
    found: list[tuple[date, str]] = []
    for year, month, day, words in parts:
        try:
            found.append((date(int(year), month, int(day)), words))
        except ValueError:
            continue
    return found


_AMOUNT = re.compile(
    r"(?<![\w.,/-])[$€£¥]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?(?![\w]|[.,]\d|-\d|/\d)"
)


def amounts_in(text: str) -> list[tuple[float, str]]:
    """The amounts a request states (see the module's docstring), each with its words."""
    out: list[tuple[float, str]] = []
    for m in _AMOUNT.finditer(text):
        words = m[0].strip()
        digits = re.sub(r"[^\d.]", "", words)
        if not digits or _UNIT_AFTER.match(text[m.end() :]):
            continue
        marked = any(c in words for c in ",.$€£¥%")
        if not marked and len(digits) < 5:
            continue  # a year, a count, a small number: not an amount
        try:
            out.append((float(digits), words))
        except ValueError:
            continue
    return out


def stated(prompt: str, fmts: Sequence[str], *, has_inputs: bool) -> list[Requirement]:
    """A requirement per date and per amount the request states for a document, when the
    request is all the document is made from."""
    if has_inputs or not any(f in _DOCUMENTS for f in fmts):
        return []
    text = " ".join(prompt.split())
    reqs: list[Requirement] = []
    seen_dates: set[date] = set()
    found = dates_in(text)
    for day, words in found:
        if day not in seen_dates:
            seen_dates.add(day)
            reqs.append(
                Requirement("date", f'the date "{words}" appears', {"date": day.isoformat()})
            )
    if CHART_REQUEST.search(text.lower()):
        return reqs  # the numbers of a chart are drawn, and the content checks judge the chart
    no_dates = text
    for _, words in found:
        no_dates = no_dates.replace(words, " ")
    seen: set[float] = set()
    for value, words in amounts_in(no_dates):
        if value not in seen:
            seen.add(value)
            reqs.append(Requirement("amount", f'the amount "{words}" appears', {"value": value}))
    return reqs


def check(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome | None:
    """The outcome of a ``date`` or ``amount`` requirement; None for any other kind."""
    if req.kind not in ("date", "amount"):
        return None
    docs = [(n, _text(f)) for n, f in facts.items() if f.get("kind") in _DOCUMENTS]
    if not docs:
        return Outcome(req, True, "no document whose text can be read")
    if req.kind == "date":
        want = date.fromisoformat(req.params["date"])
        ok = any(d == want for _, text in docs for d, _ in dates_in(text, numeric=True))
    else:
        value = float(req.params["value"])
        ok = any(close(n, value) for _, text in docs for n in numbers_in(text))
    return Outcome(req, ok, "not found in " + ", ".join(n for n, _ in docs))


def _text(facts: Mapping[str, Any]) -> str:
    """A document's text and its tables' cells."""
    cells = [str(c) for r in facts.get("rows") or [] if isinstance(r, list) for c in r]
    charts = [
        str(v)
        for chart in facts.get("native_charts") or []
        if isinstance(chart, dict)
        for series in chart.get("series") or []
        if isinstance(series, dict)
        for v in series.get("values") or []
    ]  # a native chart's numbers are the document's too
    return "\n".join([str(facts.get("text") or ""), *cells, *charts])


def how_to_meet(req: Requirement) -> str:
    if req.kind == "date":
        return "write the date the request states into the document's text"
    if req.kind == "amount":
        return "write the amount the request states into the document's text"
    return ""
