"""What the prompt plainly asks for, as checks the delivered files must pass.

"Does it open" is not "is it what I asked for". :func:`parse` reads the requirements a prompt
states in words a rule can read without guessing — pixel sizes, page and slide counts, file
names, quoted titles and labels, sheet names, formulas, charts, speaker notes, tables, "one row
per X" — and :func:`check` judges them against the facts :mod:`promptkiln.checks.facts` read from the
files. Unmet requirements go back to the model as specific repair feedback, and the result says
which were met.

    reqs = parse('A 2-page PDF titled "Q1 Sales" and an 800x600 PNG', ["pdf", "png"])
    [r.text for r in reqs]  # ['pdf has 2 pages', 'the text "Q1 Sales" appears', 'png is 800x600 px']
    check(reqs, {"report.pdf": {"kind": "pdf", "pages": 1, ...}, ...})

Each rule only fires on phrasing it is sure of; a requirement it cannot verify for a format
(text inside a PNG) is not made.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks import (
    requirements_columns,
    requirements_facts,
    requirements_headings,
    requirements_text,
    requirements_workbook,
)
from promptkiln.checks.requirement import Outcome, Requirement
from promptkiln.checks.requirements_advice import feedback, how_to_meet

__all__ = ["Outcome", "Requirement", "check", "feedback", "how_to_meet", "parse"]

_NUMBERS = {
    "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_NUM = r"(\d{1,3}|" + "|".join(_NUMBERS) + r")"
_TEXT_KINDS = {"pdf", "docx", "pptx", "xlsx", "csv", "json", "md", "txt", "html", "svg"}
#: "one slide per region", "a page for each month": a count per item, not of the whole file.
_NOT_PER = r"(?!\s+(?:per|for each|for every|each|for (?:the |every |each )?\w+ in)\b)"
_FILE_EXT = r"(pdf|png|jpe?g|svg|xlsx|docx|pptx|csv|json|parquet|txt|md|html)"


def _num(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word.lower()]


def _wants(formats: Sequence[str], *kinds: str) -> bool:
    return any(k in formats for k in kinds)


def _quoted(prompt: str) -> list[tuple[str, int]]:
    """Quoted phrases (straight or curly quotes) and where they end."""
    found = []
    for m in re.finditer(
        r"\"([^\"\n]{2,80})\"|“([^”\n]{2,80})”|(?<![\w])'([^'\n]{2,60})'(?![\w])", prompt
    ):
        text = next(g for g in m.groups() if g)
        if text.strip() and not re.fullmatch(r"[\w\-]+\.\w{2,5}", text.strip()):
            found.append((text.strip(), m.start()))
    return found


def parse(
    prompt: str, formats: Sequence[str], inputs: Mapping[str, bytes] | None = None
) -> list[Requirement]:
    """The requirements ``prompt`` states for output ``formats`` (normalised extensions)."""
    fmts = [f.lower().lstrip(".") for f in formats]
    fmts = ["jpg" if f == "jpeg" else f for f in fmts]
    text = " ".join(prompt.split())
    lower = text.lower()
    reqs: list[Requirement] = []
    inputs = inputs or {}

    # pixel sizes: "800x600", "1200 x 400 px", "1200 pixels wide", "600px tall"
    if _wants(fmts, "png", "jpg", "svg", "gif", "webp"):
        m = re.search(r"\b(\d{2,5})\s*(?:x|×|by)\s*(\d{2,5})\s*(?:px|pixels?)?\b", lower)
        if m and ("px" in lower or "pixel" in lower or "x" in m.group(0) or "×" in m.group(0)):
            w, h = int(m.group(1)), int(m.group(2))
            reqs.append(Requirement("size", f"image is {w}x{h} px", {"width": w, "height": h}))
        else:
            for dim, words in (("width", "wide"), ("height", "tall|high")):
                m = re.search(rf"\b(\d{{2,5}})\s*(?:px|pixels?)\s*(?:{words})\b", lower)
                if m:
                    reqs.append(
                        Requirement(
                            "size",
                            f"image is {m.group(1)} px {dim.replace('width', 'wide').replace('height', 'tall')}",
                            {dim: int(m.group(1))},
                        )
                    )

    # page counts: "a 3-page PDF", "two pages", "one page", "at least 5 pages"
    if _wants(fmts, "pdf"):
        m = re.search(
            rf"\b(at least |minimum of |no more than |at most )?{_NUM}[- ]pages?\b{_NOT_PER}", lower
        )
        if m:
            n = _num(m.group(2))
            op = {
                "at least ": ">=",
                "minimum of ": ">=",
                "no more than ": "<=",
                "at most ": "<=",
            }.get(m.group(1) or "", "==")
            reqs.append(
                Requirement(
                    "pages",
                    f"pdf has {'' if op == '==' else op + ' '}{n} page{'s' if n != 1 else ''}",
                    {"n": n, "op": op},
                )
            )
    if _wants(fmts, "pptx"):
        m = re.search(rf"\b(at least )?{_NUM}[- ]slides?\b{_NOT_PER}", lower)
        if m:
            n = _num(m.group(2))
            op = ">=" if m.group(1) else "=="
            reqs.append(
                Requirement(
                    "slides",
                    f"pptx has {'' if op == '==' else op + ' '}{n} slide{'s' if n != 1 else ''}",
                    {"n": n, "op": op},
                )
            )

    # named output files: "save it as report.pdf", "named summary.xlsx"
    for m in re.finditer(rf"\b([\w\-]{{1,60}}\.{_FILE_EXT})\b", text, re.IGNORECASE):
        name = m.group(1)
        if name not in inputs and not re.search(r"inputs?/\s*$", text[: m.start()]):
            reqs.append(Requirement("file", f"a file named {name}", {"name": name}))

    # sheet names: sheet(s) named/called "X" (and "Y")
    sheet_quotes: set[str] = set()
    if _wants(fmts, "xlsx"):
        for q, start in _quoted(text):
            before = lower[max(0, start - 40) : start]
            if re.search(r"\b(sheets?|tabs?|worksheets?)\b", before):
                sheet_quotes.add(q)
                reqs.append(Requirement("sheet", f'a sheet named "{q}"', {"name": q}))

    # quoted titles / labels that must appear in a file whose text can be read
    if any(f in _TEXT_KINDS for f in fmts):
        for q, _ in _quoted(text):
            if q not in sheet_quotes:
                reqs.append(Requirement("text", f'the text "{q}" appears', {"text": q}))

    # formulas: "with a SUM formula", "formulas for the totals"
    if _wants(fmts, "xlsx") and re.search(r"\bformulas?\b", lower):
        funcs = sorted(set(re.findall(r"\b(SUM|AVERAGE|MIN|MAX|COUNT|IF|VLOOKUP|ROUND)\b", text)))
        reqs.append(
            Requirement(
                "formula",
                "the workbook uses formulas" + (f" ({', '.join(funcs)})" if funcs else ""),
                {"functions": funcs},
            )
        )

    reqs += requirements_workbook.parse(lower, fmts)  # "with thousands separators"

    # native charts in office files
    if re.search(r"\b(chart|graph|plot)\b", lower):
        for fmt in ("xlsx", "pptx"):
            if fmt in fmts and not re.search(r"\b(png|svg|image)\b", lower.replace(fmt, "")):
                reqs.append(Requirement("chart", f"the {fmt} has a native chart", {"format": fmt}))
    if _wants(fmts, "pptx") and re.search(r"\bspeaker notes?\b|\bnotes\b", lower):
        every = re.search(r"\b(every|each|all)\b[^.]{0,20}\bslides?\b|\bper slide\b", lower)
        if every:
            reqs.append(Requirement("notes", "every slide has speaker notes", {"every": True}))
        else:
            reqs.append(Requirement("notes", "slides have speaker notes", {}))
    if re.search(r"\btable\b", lower):
        for fmt in ("docx", "pptx"):
            if fmt in fmts:
                reqs.append(Requirement("table", f"the {fmt} has a table", {"format": fmt}))
    if _wants(fmts, "docx") and re.search(r"\b(picture|image|chart|figure)\b", lower):
        reqs.append(Requirement("image", "the docx has a picture", {"format": "docx"}))

    # "one row per region" with a CSV input that has a "region" column
    m = re.search(r"\bone row (?:per|for each) (\w+)", lower)
    if m and _wants(fmts, "csv"):
        count = _distinct(inputs, m.group(1))
        if count is not None:
            reqs.append(
                Requirement("rows", f"one row per {m.group(1)} ({count} rows)", {"n": count})
            )
    # "one bullet per region" in a Word file, "a slide for each product": as many as the input
    # column has values (a deck may add a title slide)
    m = re.search(r"\b(?:one|a) (bullet|slide)(?: point)? (?:per|for each|for every) (\w+)", lower)
    fmt = {"bullet": "docx", "slide": "pptx"}[m.group(1)] if m else ""
    if m and _wants(fmts, fmt):
        count = _distinct(inputs, m.group(2))
        values = _values(inputs, m.group(2))
        if values and len(values) <= 30:  # each bullet or slide names its own item
            what = f"each {m.group(2)} is named in the {fmt} ({', '.join(values[:6])})"
            reqs.append(Requirement("named_each", what, {"values": values, "format": fmt}))
        if count is not None and m.group(1) == "bullet":
            reqs.append(Requirement("bullets", f"the docx has {count} bullets", {"n": count}))
        elif count is not None:
            text = f"pptx has at least {count} slides (one per {m.group(2)})"
            reqs.append(Requirement("slides", text, {"n": count, "op": ">="}))
    reqs += requirements_columns.parse(lower, fmts, inputs)  # "convert", "the same columns"
    quoted = {r.params["text"] for r in reqs if r.kind == "text"}
    parties = [
        r for r in requirements_text.named_parties(text, fmts) if r.params["text"] not in quoted
    ]
    keys = requirements_text.json_keys(text, fmts)
    facts = requirements_facts.stated(text, fmts, has_inputs=bool(inputs))
    headings = [r for r in requirements_headings.parse(text, fmts) if r.params["text"] in quoted]
    return reqs + parties + keys + facts + headings + requirements_text.parse(lower, fmts)


def _distinct(inputs: Mapping[str, bytes], word: str) -> int | None:
    """How many distinct values the input CSV column named like ``word`` has."""
    values = _values(inputs, word)
    return None if values is None else len(values)


def _values(inputs: Mapping[str, bytes], word: str) -> list[str] | None:
    """The distinct values of the input CSV column named like ``word``, in order."""
    stems = {word, word.rstrip("s"), word[:-3] + "y" if word.endswith("ies") else word}
    for name, data in inputs.items():
        if not name.lower().endswith(".csv"):
            continue
        rows = list(csv.reader(io.StringIO(data[: 16 * 2**20].decode("utf-8-sig", "replace"))))
        if not rows:
            continue
        header = [h.strip().lower() for h in rows[0]]
        for i, h in enumerate(header):
            if h in stems or h.rstrip("s") in stems:
                return list(
                    dict.fromkeys(r[i].strip() for r in rows[1:] if len(r) > i and r[i].strip())
                )
    return None


def _compare(found: int, op: str, n: int) -> bool:
    return {"==": found == n, ">=": found >= n, "<=": found <= n}[op]


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).casefold()


def check(reqs: Sequence[Requirement], facts: Mapping[str, Mapping[str, Any]]) -> list[Outcome]:
    """Judge each requirement against ``facts`` (file name -> facts of that file)."""
    return [_check_one(r, facts) for r in reqs]


def _of(facts: Mapping[str, Mapping[str, Any]], *kinds: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [(n, f) for n, f in facts.items() if f.get("kind") in kinds]


def _check_one(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome:
    p = req.params
    if req.kind == "size":
        images = _of(facts, "png", "jpg", "gif", "webp", "svg")
        sized = [(n, f) for n, f in images if "width" in f]
        if not sized:
            return Outcome(req, not images, "no image with a readable size" if images else "")
        for name, f in sized:
            ok = all(
                abs(int(f[d]) - int(p[d])) <= max(2, int(p[d]) // 100)
                for d in ("width", "height")
                if d in p
            )
            if not ok:
                return Outcome(req, False, f"{name} is {f['width']}x{f['height']} px")
        return Outcome(req, True)
    if req.kind in ("pages", "slides"):
        key, kind = ("pages", "pdf") if req.kind == "pages" else ("slides", "pptx")
        for name, f in _of(facts, kind):
            if not _compare(int(f.get(key, 0)), p["op"], p["n"]):
                return Outcome(req, False, f"{name} has {f.get(key, 0)} {key}")
        return Outcome(req, True)
    if req.kind == "file":
        names = {n.rsplit("/", 1)[-1].lower() for n in facts}
        return Outcome(req, p["name"].lower() in names, "files made: " + ", ".join(sorted(facts)))
    if req.kind == "sheet":
        sheets = [s["name"] for _, f in _of(facts, "xlsx") for s in f.get("sheets", [])]
        ok = _norm(p["name"]) in {_norm(s) for s in sheets}
        return Outcome(req, ok, "sheets: " + ", ".join(sheets))
    if req.kind == "text":
        readable = [
            (n, f) for n, f in facts.items()
            if f.get("kind") in _TEXT_KINDS and (f.get("kind") != "svg" or f.get("has_text"))
        ]  # fmt: skip
        if not readable:
            return Outcome(req, True, "no file whose text can be read")
        want = _norm(p["text"])
        ok = any(want in _norm(_all_text(f)) for _, f in readable)
        return Outcome(req, ok, "not found in " + ", ".join(n for n, _ in readable))
    if req.kind == "formula":
        formulas = [
            x
            for _, f in _of(facts, "xlsx")
            for s in f.get("sheets", [])
            for x in s.get("formulas", [])
        ]
        if not formulas:
            return Outcome(req, False, "no cell holds a formula (cells starting with '=')")
        missing = [
            fn for fn in p.get("functions", []) if not any(fn + "(" in x.upper() for x in formulas)
        ]
        return Outcome(req, not missing, f"no {', '.join(missing)}( formula" if missing else "")
    if req.kind in ("chart", "table", "image"):
        key = {"chart": "charts", "table": "tables", "image": "images"}[req.kind]
        files = _of(facts, p["format"])
        ok = bool(files) and all(int(f.get(key, 0)) > 0 for _, f in files)
        return Outcome(req, ok, f"no {req.kind} found in the {p['format']}")
    if req.kind == "notes":
        files = _of(facts, "pptx")
        if p.get("every"):
            short = [(n, f) for n, f in files if int(f.get("notes", 0)) < int(f.get("slides", 0))]
            detail = ", ".join(
                f"{n}: {f.get('notes', 0)} of {f.get('slides')} slides" for n, f in short
            )
            return Outcome(req, bool(files) and not short, f"notes on {detail}")
        ok = bool(files) and all(int(f.get("notes", 0)) > 0 for _, f in files)
        return Outcome(req, ok, "no slide has speaker notes")
    if req.kind == "rows":
        files = _of(facts, "csv")
        for name, f in files:
            if int(f.get("rows", -1)) != p["n"]:
                return Outcome(req, False, f"{name} has {f.get('rows')} data rows")
        return Outcome(req, bool(files))
    return (
        requirements_text.check(req, facts)
        or requirements_facts.check(req, facts)
        or requirements_workbook.check(req, facts)
        or requirements_columns.check(req, facts)
        or requirements_headings.check(req, facts)
        or Outcome(req, True, "not checked")
    )


def _all_text(facts: Mapping[str, Any]) -> str:
    """A file's text; a workbook's sheet names count (a quoted 'Summary' is often a sheet)."""
    names = " ".join(str(s.get("name", "")) for s in facts.get("sheets", []) or [])
    return f"{facts.get('text', '')} {names}"
