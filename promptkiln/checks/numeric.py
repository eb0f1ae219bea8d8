"""Numbers as files show them: 1234.5 is "1,234.50", "1234.5", "$1,235", "1.2K" is not.

:func:`close` says whether a shown number is the expected one, allowing the rounding a person
would do (to whole units, to two decimals, to three significant figures) but not a different
number; :func:`numbers_in` finds the numbers in a line of text; :func:`same_label` compares
category labels the way people write them (case, spaces, a ``.0`` on a year).
"""

from __future__ import annotations

import math
import re

#: Relative difference allowed without rounding (floating point, a mean shown to 2 places).
REL_TOL = 0.005

_NUMBER = re.compile(
    r"""(?<![\w.])
    [-−(]?\s?[$€£¥]?\s?
    (?:\d{1,3}(?:[,\u202f\u00a0 ]\d{3})+|\d+)   # 1,234,567 or 1234567
    (?:\.\d+)?                                  # decimals
    \)?\s?%?""",
    re.X,
)


def close(shown: float, expected: float) -> bool:
    """``shown`` is ``expected``, or it rounded to 0-2 decimals or 3 significant figures."""
    if math.isclose(shown, expected, rel_tol=REL_TOL, abs_tol=1e-9):
        return True
    for digits in (0, 1, 2):
        if math.isclose(shown, round(expected, digits), abs_tol=10 ** -(digits + 3)):
            return True
    if expected:
        magnitude = math.floor(math.log10(abs(expected)))
        rounded = round(expected, 2 - magnitude)
        return math.isclose(shown, rounded, rel_tol=1e-9, abs_tol=1e-9)
    return False


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``: thousands separators, currency, a percent sign and
    accounting parentheses understood; "12.5%" is 12.5."""
    out: list[float] = []
    for m in _NUMBER.finditer(text):
        raw = m.group(0)
        negative = raw.lstrip().startswith(("-", "−", "("))
        digits = re.sub(r"[^\d.]", "", raw)
        if not digits or digits == ".":
            continue
        try:
            value = float(digits)
        except ValueError:
            continue
        out.append(-value if negative else value)
    return out


def norm_label(text: object) -> str:
    t = " ".join(str(text).split()).strip().lower()
    if re.fullmatch(r"-?\d+\.0+", t):
        t = t.split(".")[0]
    return t


def same_label(a: object, b: object) -> bool:
    return norm_label(a) == norm_label(b)


def show(values: dict[str, float], limit: int = 6) -> str:
    """``East=3400, West=1200, …`` for a message."""
    items = [f"{k}={fmt(v)}" for k, v in list(values.items())[:limit]]
    if len(values) > limit:
        items.append(f"… ({len(values)} in all)")
    return ", ".join(items)


def fmt(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.2f}"
