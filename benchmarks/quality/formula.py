"""A small, safe evaluator for the spreadsheet formulas the tasks ask for.

openpyxl stores formulas, not their results, so a checker that wants "the total is right" must
compute them. Supported: numbers, cell references (``B2``, ``$B$2``, ``Sheet!B2``,
``'My Sheet'!B2``), ranges, ``+ - * / ^``, parentheses, unary minus, percentages, and SUM,
AVERAGE, MIN, MAX, COUNT, ROUND, ABS, IF with comparisons, SUMIF/COUNTIF/AVERAGEIF, and
whole-column ranges (``B:B``). Anything else evaluates to None (the
checker then reports it), never to an exception. No ``eval``: a tokenizer and a recursive-descent
parser.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<ref>(?:(?:'[^']+'|[A-Za-z_][\w.]*)!)?(?:\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?"
    r"|\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}(?![\w(])))"
    r"|(?P<func>[A-Za-z][A-Za-z0-9.]*)\s*\("
    r"|(?P<str>\"[^\"]*\")"
    r"|(?P<op><=|>=|<>|[-+*/^(),%<>=&]))"
)


class _Fail(Exception):
    pass


def _col(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _split(ref: str, sheet: str) -> tuple[str, int, int]:
    if "!" in ref:
        sheet, ref = ref.rsplit("!", 1)
        sheet = sheet.strip("'")
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", ref)
    if not m:
        raise _Fail(ref)
    return sheet, _col(m.group(1)), int(m.group(2))


def evaluate_workbook(wb: Any, max_depth: int = 50) -> dict[tuple[str, str], Any]:
    """Every formula cell's value, by (sheet title, coordinate); None where unsupported."""
    cache: dict[tuple[str, int, int], Any] = {}

    def last_row(sheet: str) -> int:
        if sheet not in wb.sheetnames:
            raise _Fail(sheet)
        return int(wb[sheet].max_row)

    def value(sheet: str, col: int, row: int, depth: int) -> Any:
        key = (sheet, col, row)
        if key in cache:
            return cache[key]
        if depth > max_depth or sheet not in wb.sheetnames:
            raise _Fail("depth")
        raw = wb[sheet].cell(row=row, column=col).value
        if isinstance(raw, str) and raw.startswith("="):
            result = _Parser(
                raw[1:], sheet, lambda s, c, r: value(s, c, r, depth + 1), last_row
            ).parse()
        else:
            result = raw
        cache[key] = result
        return result

    out: dict[tuple[str, str], Any] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    try:
                        out[(ws.title, c.coordinate)] = value(ws.title, c.column, c.row, 0)
                    except (_Fail, ZeroDivisionError, TypeError, ValueError, RecursionError):
                        out[(ws.title, c.coordinate)] = None
    return out


class _Parser:
    def __init__(self, text: str, sheet: str, lookup: Any, max_row: Any = None) -> None:
        self.tokens = self._tokens(text)
        self.i = 0
        self.sheet = sheet
        self.lookup = lookup
        self.max_row = max_row or (lambda sheet: 1)

    @staticmethod
    def _tokens(text: str) -> list[tuple[str, str]]:
        out, pos = [], 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise _Fail(text[pos:])
            kind = m.lastgroup or ""
            out.append((kind, m.group(kind)))
            pos = m.end()
        return out

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _Fail("end")
        self.i += 1
        return tok

    def parse(self) -> Any:
        v = self.compare()
        if self.peek() is not None:
            raise _Fail("trailing")
        return v

    def compare(self) -> Any:
        left = self.additive()
        tok = self.peek()
        if tok and tok[1] in ("<", ">", "=", "<=", ">=", "<>"):
            self.take()
            right = self.additive()
            return {
                "<": left < right,
                ">": left > right,
                "=": left == right,
                "<=": left <= right,
                ">=": left >= right,
                "<>": left != right,
            }[tok[1]]
        return left

    def additive(self) -> Any:
        v = self.term()
        while (tok := self.peek()) and tok[1] in "+-" and tok[0] == "op":
            self.take()
            r = self.term()
            v = _num(v) + _num(r) if tok[1] == "+" else _num(v) - _num(r)
        return v

    def term(self) -> Any:
        v = self.power()
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in "*/":
            self.take()
            r = self.power()
            v = _num(v) * _num(r) if tok[1] == "*" else _num(v) / _num(r)
        return v

    def power(self) -> Any:
        v = self.unary()
        while (tok := self.peek()) and tok[1] == "^":
            self.take()
            v = _num(v) ** _num(self.unary())
        return v

    def unary(self) -> Any:
        tok = self.peek()
        if tok and tok[1] == "-":
            self.take()
            return -_num(self.unary())
        if tok and tok[1] == "+":
            self.take()
            return self.unary()
        v = self.atom()
        if (nxt := self.peek()) and nxt[1] == "%":
            self.take()
            v = _num(v) / 100
        return v

    def atom(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1]
        if kind == "ref":
            if ":" in text:
                return self.range(text)
            sheet, col, row = _split(text, self.sheet)
            return self.lookup(sheet, col, row)
        if kind == "func":
            return self.call(text.upper())
        if text == "(":
            v = self.compare()
            if self.take()[1] != ")":
                raise _Fail(")")
            return v
        raise _Fail(text)

    def range(self, text: str) -> list[Any]:
        first, last = text.split(":")
        if re.fullmatch(r"(?:.*!)?\$?[A-Za-z]{1,3}", first) and re.fullmatch(
            r"\$?[A-Za-z]{1,3}", last
        ):
            # whole columns (B:B): rows 1 to the sheet's last used row
            sheet = first.rsplit("!", 1)[0].strip("'") if "!" in first else self.sheet
            rows = self.max_row(sheet)
            first, last = f"{first}1", f"{last}{rows}"
        sheet, c1, r1 = _split(first, self.sheet)
        _, c2, r2 = _split(last, sheet)
        if (abs(c2 - c1) + 1) * (abs(r2 - r1) + 1) > 100_000:
            raise _Fail("range too large")
        return [
            self.lookup(sheet, c, r)
            for r in range(min(r1, r2), max(r1, r2) + 1)
            for c in range(min(c1, c2), max(c1, c2) + 1)
        ]

    def call(self, name: str) -> Any:
        args: list[Any] = []
        if (tok := self.peek()) and tok[1] == ")":
            self.take()
        else:
            while True:
                args.append(self.compare())
                sep = self.take()[1]
                if sep == ")":
                    break
                if sep != ",":
                    raise _Fail(sep)
        if name in ("SUMIF", "COUNTIF", "AVERAGEIF"):
            return _conditional(name, args)
        flat = [x for a in args for x in (a if isinstance(a, list) else [a])]
        nums = [float(x) for x in flat if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if name == "SUM":
            return sum(nums)
        if name == "AVERAGE":
            return sum(nums) / len(nums)
        if name == "MIN":
            return min(nums) if nums else 0.0
        if name == "MAX":
            return max(nums) if nums else 0.0
        if name == "COUNT":
            return float(len(nums))
        if name == "ROUND":
            return round(_num(args[0]), int(_num(args[1])) if len(args) > 1 else 0)
        if name == "ABS":
            return abs(_num(args[0]))
        if name == "IF":
            return args[1] if args[0] else (args[2] if len(args) > 2 else False)
        if name == "MEDIAN" and nums:
            return statistics.median(nums)
        if name == "PMT" and len(args) >= 3:
            return _pmt(*(_num(a) for a in args[:4]))
        raise _Fail(name)


def _pmt(rate: float, nper: float, pv: float, fv: float = 0.0) -> float:
    """Excel's PMT (payments at the end of each period)."""
    if rate == 0:
        return -(pv + fv) / nper
    growth = (1 + rate) ** nper
    return -(pv * growth + fv) * rate / (growth - 1)


def _matches(value: Any, criterion: Any) -> bool:
    """Excel's criteria: "North", 5, ">100", "<>x" (case-insensitive text)."""
    crit = str(criterion)
    m = re.fullmatch(r"(<=|>=|<>|<|>|=)?(.*)", crit, re.S)
    op, operand = (m.group(1) or "=", m.group(2)) if m else ("=", crit)
    try:
        a, b = float(value), float(operand)
    except (TypeError, ValueError):
        a, b = str(value if value is not None else "").casefold(), operand.casefold()  # type: ignore[assignment]
        if op not in ("=", "<>"):
            return False
    return {
        "=": a == b,
        "<>": a != b,
        "<": a < b,
        ">": a > b,
        "<=": a <= b,
        ">=": a >= b,
    }[op]


def _conditional(name: str, args: list[Any]) -> float:
    if len(args) not in (2, 3) or not isinstance(args[0], list):
        raise _Fail(name)
    target = args[2] if len(args) == 3 and name != "COUNTIF" else args[0]
    if not isinstance(target, list):
        raise _Fail(name)
    picked = [t for k, t in zip(args[0], target, strict=False) if _matches(k, args[1])]
    if name == "COUNTIF":
        return float(len(picked))
    nums = [float(x) for x in picked if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if name == "SUMIF":
        return sum(nums)
    return sum(nums) / len(nums)


def _num(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    raise _Fail(f"not a number: {v!r}")
