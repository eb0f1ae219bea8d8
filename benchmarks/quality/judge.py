"""Checker builders: each returns a Check (out directory -> problems) that judges content.

``values(ext, expected)`` wants each label with its value on one line of the file (a table row, a
CSV row, a JSON record); ``bars``/``lines``/``pie`` judge what a chart drew from the platform's
chart facts; ``every`` combines checks. Expected values are callables, computed from the inputs
when the check runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import facts
from checks import files, has_text, pdf_info, pptx_info
from content import doc_lines, labeled_values, labels_in_order, placeholder, row_has_all
from expect import ordered
from task import Check

Expected = Callable[[], dict[str, float]]


def every(*checks: Check) -> Check:
    def check(out: Path) -> list[str]:
        return [p for c in checks for p in c(out)]

    return check


def values(
    ext: str,
    expected: Expected,
    order: str | None = None,
    tol: float | None = None,
    aliases: Callable[[], dict[str, list[str]]] | None = None,
    what: str = "",
) -> Check:
    """Each label next to its value in the ``.ext`` file; ``order`` "desc"/"asc" by value,
    "given" in the expected dict's order."""

    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        if problems:
            return problems
        want = expected()
        seq = None
        if order == "given":
            seq = list(want)
        elif order:
            seq = ordered(want, descending=order == "desc")
        return labeled_values(lines, want, seq, tol, aliases() if aliases else None, what)

    return check


def rows_with(
    ext: str,
    expected: Callable[[], dict[str, list[float]]],
    tol: float | None = None,
    aliases: Callable[[], dict[str, list[str]]] | None = None,
) -> Check:
    """A row per label holding all of its numbers (a table of several columns)."""

    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        if problems:
            return problems
        alias = aliases() if aliases else {}
        return [
            p
            for k, ws in expected().items()
            for p in row_has_all(lines, [k, *alias.get(k, [])], ws, tol)
        ]

    return check


def words(ext: str, *needles: str) -> Check:
    """The ``.ext`` file says each of ``needles`` (names, titles, dates as text)."""

    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        return problems or has_text("\n".join(lines), *needles)

    return check


def in_order(ext: str, order: Callable[[], list[str]]) -> Check:
    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        return problems or labels_in_order(lines, order())

    return check


def row_count(ext: str, want: Callable[[], int]) -> Check:
    """Data rows of a CSV (or Parquet) file: the header is not a row."""

    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        if problems:
            return problems
        rows = [x for x in lines if x.strip()]
        n = len(rows) - (1 if ext == "csv" else 0)
        return [] if n == want() else [f"{n} rows, expected {want()}"]

    return check


def pages(n: int) -> Check:
    def check(out: Path) -> list[str]:
        found = files(out, "pdf")
        if not found:
            return ["no .pdf file"]
        got, _, _ = pdf_info(found[0])
        return [] if got == n else [f"the PDF has {got} pages, not {n}"]

    return check


def pdf_image() -> Check:
    def check(out: Path) -> list[str]:
        found = files(out, "pdf")
        if not found:
            return ["no .pdf file"]
        return [] if pdf_info(found[0])[2] else ["no chart image in the PDF"]

    return check


def slides(n: int, notes: bool = False) -> Check:
    """``n`` slides, none with a placeholder title (and each with speaker notes)."""

    def check(out: Path) -> list[str]:
        found = files(out, "pptx")
        if not found:
            return ["no .pptx file"]
        s = pptx_info(found[0])["slides"]
        problems = [] if len(s) == n else [f"{len(s)} slides, not {n}"]
        problems += [
            f"slide {i + 1} has the placeholder title {x['title']!r}"
            for i, x in enumerate(s)
            if placeholder(x["title"])
        ]
        if notes:
            missing = [i + 1 for i, x in enumerate(s) if not x["notes"].strip()]
            problems += [f"slides without notes: {missing}"] if missing else []
        return problems

    return check


def bars(
    ext: str,
    expected: Expected,
    order: str | None = None,
    title: tuple[str, ...] = (),
    name: str | None = None,
    tol: float | None = None,
) -> Check:
    """A bar per label with its height, drawn in ``order`` ("desc"/"asc"/"given") if given."""

    def check(out: Path) -> list[str]:
        axes, problems = facts.chart(out, ext, name)
        if problems:
            return problems
        want = expected()
        seq = list(want) if order == "given" else ordered(want, order == "desc") if order else None
        return facts.bars(axes, want, seq, tol) + _titled(axes, title)

    return check


def grouped(
    ext: str, expected: Callable[[], dict[str, dict[str, float]]], title: tuple[str, ...] = ()
) -> Check:
    def check(out: Path) -> list[str]:
        axes, problems = facts.chart(out, ext)
        return problems or facts.grouped(axes, expected()) + _titled(axes, title)

    return check


def lines(
    ext: str, expected: Callable[[], dict[str, list[float]]], title: tuple[str, ...] = ()
) -> Check:
    def check(out: Path) -> list[str]:
        axes, problems = facts.chart(out, ext)
        return problems or facts.lines(axes, expected()) + _titled(axes, title)

    return check


def line(ext: str, ys: Callable[[], list[float]], title: tuple[str, ...] = ()) -> Check:
    def check(out: Path) -> list[str]:
        axes, problems = facts.chart(out, ext)
        return problems or facts.line(axes, ys()) + _titled(axes, title)

    return check


def pie(ext: str, expected: Expected, title: tuple[str, ...] = ()) -> Check:
    def check(out: Path) -> list[str]:
        axes, problems = facts.chart(out, ext)
        return problems or facts.pie(axes, expected()) + _titled(axes, title)

    return check


def histogram(ext: str, n: int, bins: int) -> Check:
    """``bins`` bars whose heights add up to the ``n`` values."""

    def check(out: Path) -> list[str]:
        axes, problems = facts.chart(out, ext)
        if problems:
            return problems
        drawn = [b for ax in axes for b in facts.normal(ax)["bars"]]
        count = sum(len(b["heights"]) for b in drawn)
        problems = [] if count == bins else [f"{count} bins drawn, expected {bins}"]
        total = sum(h for b in drawn for h in b["heights"])
        if abs(total - n) > 0.5:
            problems.append(f"the bins hold {total:g} values, expected {n}")
        return problems + facts.no_placeholders(axes)

    return check


def _titled(axes: list[facts.Axes], title: tuple[str, ...]) -> list[str]:
    if title:
        return facts.titled(axes, *title) + facts.no_placeholders(axes)
    return facts.no_placeholders(axes)


def month_aliases(months: list[str], with_year: bool = False) -> dict[str, list[str]]:
    """ "2024-03" is also written 2024-03-01, Mar 2024, March 2024, 03/2024 (and, when the data
    spans one year, Mar, March)."""
    names = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]  # fmt: skip
    out = {}
    for m in months:
        y, mm = m.split("-")
        name = names[int(mm) - 1]
        forms = [f"{m}-01", f"{name} {y}", f"{name[:3]} {y}", f"{mm}/{y}", f"{name[:3]}-{y[2:]}"]
        if not with_year:
            forms += [name, name[:3]]
        out[m] = forms
    return out


def no_text(ext: str, pattern: str, why: str) -> Check:
    def check(out: Path) -> list[str]:
        lines, problems = doc_lines(out, ext)
        if problems:
            return problems
        hit = re.search(pattern, "\n".join(lines), re.I)
        return [f"{why}: {hit.group(0)!r}"] if hit else []

    return check
