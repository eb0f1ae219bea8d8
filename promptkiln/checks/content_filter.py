"""A listing the request filters by a threshold shows exactly the rows that pass it.

"A CSV of only the products with more than 100 units": a listing of every product, each with its
right value, looks right to the listing check (a listing may leave rows out) and is wrong. When
the request puts a threshold on the listing's own value column ("more than 100 units", "units
over 100", "at least 5", "below 20"), every row shown must pass it and every input row that
passes it must be shown (or, in a sorted listing, the first N of them).

    threshold("products with more than 100 units", "units") -> (">", 100.0)
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence

from promptkiln.checks.content_docs import label_in
from promptkiln.checks.content_expected import Expected, Spec

_OPS: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
    (r"(?:more|greater|higher|larger|bigger) than|over|above|exceeding", operator.gt, ">"),
    (r"at least|no (?:less|fewer) than", operator.ge, ">="),
    (r"(?:less|fewer|lower|smaller) than|under|below", operator.lt, "<"),
    (r"at most|no more than", operator.le, "<="),
)
_NUMBER = r"\$?(\d[\d,]*(?:\.\d+)?)"


def threshold(prompt: str, column: str) -> tuple[str, float] | None:
    """The one threshold the request puts on ``column``: its name within three words after
    the number ("more than 100 units") or before the comparison ("units over 100")."""
    text = " ".join(prompt.lower().replace("_", " ").split())
    name = re.escape(" ".join(column.lower().replace("_", " ").split()))
    found: list[tuple[str, float]] = []
    for words, _, sign in _OPS:
        between = r"(?: (?!and\b|or\b)\w+)"  # words that are not another condition's
        after = rf"\b(?:{words}) {_NUMBER}{between}{{0,2}}? {name}s?\b"
        before = rf"\b{name}s?{between}{{0,3}}? (?:{words}) {_NUMBER}"
        for pattern in (after, before):
            for m in re.finditer(pattern, text):
                found.append((sign, float(m.group(1).replace(",", ""))))
    return found[0] if len(set(found)) == 1 else None


def filtered(
    spec: Spec, expected: Expected, rows: Sequence[Sequence[str]], prompt: str
) -> str | None:
    """None when a thresholded listing shows the rows that pass; else which do not."""
    if not spec.listing or spec.y is None or not expected.values:
        return None
    cond = threshold(prompt, spec.y)
    if cond is None:
        return None
    sign, n = cond
    test = next(f for _, f, s in _OPS if s == sign)
    shown = [k for k in expected.values if any(label_in(k, row) is not None for row in rows)]
    passing = [k for k, v in expected.values.items() if v is not None and test(v, n)]
    extra = [k for k in shown if k not in passing]
    left_out = [k for k in passing if k not in shown]
    if left_out and spec.sort != "none" and not extra:
        return None  # a sorted listing of the first N that pass
    parts = []
    if extra:
        parts.append(f"it shows {', '.join(extra[:6])}, whose {spec.y} is not {sign} {n:g}")
    if left_out:
        parts.append(f"it leaves out {', '.join(left_out[:6])}, whose {spec.y} is {sign} {n:g}")
    return "; ".join(parts) or None
