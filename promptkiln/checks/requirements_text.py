"""Two requirements about a document's words: a stated number of bullets, and none of the
format notes' placeholder text left in the file.

Small models copy a note's skeleton and keep its placeholders ("First point", "Report title");
a file that still says "Second bullet" is not what anyone asked for, whatever else it got right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks.requirement import Outcome, Requirement

#: Placeholder text of the skeletons in templates/*.md; a file may hold one only if the prompt
#: itself says it.
PLACEHOLDERS = (
    "Report title",
    "Document title",
    "Deck title",
    "Chart title",
    "First point",
    "Second point",
    "Second bullet",
    "Third bullet",
    "Speaker notes for this slide.",
    "Heading of page",
    "Paragraph text.",
    "Title of slide",
    "Item A",
    "Item B",
    "The text of this page.",
)
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "ten": 10}
_BULLETS = re.compile(
    r"\b(\d{1,2}|two|three|four|five|six|seven|eight|ten)\s+"
    r"(?:bullet(?:s|ed)?(?: points?| items?)?|action items|bulleted items)\b"
)
_TEXT_FORMATS = ("pdf", "docx", "pptx", "xlsx")


def parse(lower: str, fmts: Sequence[str]) -> list[Requirement]:
    reqs: list[Requirement] = []
    m = _BULLETS.search(lower)
    if m and "docx" in fmts:
        n = int(m.group(1)) if m.group(1).isdigit() else _WORDS[m.group(1)]
        reqs.append(Requirement("bullets", f"the docx has {n} bullets", {"n": n}))
    return reqs


#: A name of a person, team or company: "Jane Doe", "All Staff", "ACME Corp", "HR".
_NAME_WORD = r"(?:[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?|[A-Z]{2,6})"
#: Who a letter, memo or invoice is from, to or for: "from Jane Doe to John Smith".
_PARTY = re.compile(
    rf"(?<![\w-])(?:from|to|for|by|between|and|signed by|addressed to)\s+"
    rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}})(?![\w-])"
)
#: Capitalised words that name a format, an application or a month, not a party.
_NOT_NAMES = {
    "pdf", "csv", "xlsx", "docx", "pptx", "png", "svg", "json", "excel", "word", "powerpoint",
    "html", "jpg", "jpeg", "sql", "api", "url", "the", "a", "an", "my", "our", "each", "every",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday",
}  # fmt: skip
_DOCUMENTS = ("pdf", "docx", "pptx")


def named_parties(prompt: str, fmts: Sequence[str]) -> list[Requirement]:
    """Names the prompt says a document is from, to or for ("a letter from Jane Doe to John
    Smith", "a memo to All Staff from HR", "an invoice for ACME Corp"): each must appear in the
    document. Only names of two or more capitalised words, or an acronym, are taken; a single
    capitalised word after "for" is as often a month or a product as a party."""
    if not any(f in _DOCUMENTS for f in fmts):
        return []
    text = " ".join(prompt.split())
    found: list[str] = []
    for m in _PARTY.finditer(text):
        words = m.group(1).split()
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if any(w.lower() in _NOT_NAMES for w in words):
            continue
        if len(words) >= 2 or (len(words) == 1 and words[0].isupper() and len(words[0]) >= 2):
            name = " ".join(words)
            if name not in found:
                found.append(name)
    return [Requirement("text", f'the text "{n}" appears', {"text": n}) for n in found]


#: "with the keys total_revenue (a number), best_region and regions", "fields: id, name".
_KEYS = re.compile(r"\b(?:keys?|fields?)\b\s*:?\s*([^.;]{1,300})")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")


def json_keys(prompt: str, fmts: Sequence[str]) -> list[Requirement]:
    """The keys a JSON request names ("with the keys total_revenue, best_region and
    regions"): each must be a key of the JSON file. Descriptions in brackets are skipped; the
    list ends at the first item that is not a single identifier."""
    if "json" not in fmts:
        return []
    m = _KEYS.search(" ".join(prompt.split()))
    if m is None:
        return []
    listed = re.sub(r"\([^)]*\)", "", m.group(1))
    keys: list[str] = []
    for item in re.split(r",|\band\b|\bor\b", listed):
        item = item.strip().strip("`'\"")
        if not _IDENT.fullmatch(item) or item.lower() in {"the", "a", "an", "with"}:
            break
        keys.append(item)
    return [Requirement("json_key", f'the JSON has the key "{k}"', {"key": k}) for k in keys]


def placeholder_check(prompt: str, fmts: Sequence[str]) -> list[Requirement]:
    """Not stated by the prompt but always wanted: none of the notes' placeholder text (that
    the prompt does not itself use) left in a document."""
    lower = prompt.lower()
    kept = [p for p in PLACEHOLDERS if p.lower() not in lower]
    if not kept or not any(f in fmts for f in _TEXT_FORMATS):
        return []
    text = "the files hold none of the notes' placeholder text"
    return [Requirement("placeholders", text, {"texts": kept})]


def check(req: Requirement, facts: Mapping[str, Mapping[str, Any]]) -> Outcome | None:
    """The outcome of the kinds this module adds; None for any other kind."""
    if req.kind == "bullets":
        docs = [(n, f) for n, f in facts.items() if f.get("kind") == "docx"]
        short = [
            (n, f.get("bullets", 0)) for n, f in docs if int(f.get("bullets", 0)) != req.params["n"]
        ]
        detail = ", ".join(f"{n} has {b} bulleted paragraphs" for n, b in short)
        return Outcome(req, bool(docs) and not short, detail)
    if req.kind == "named_each":  # "a slide for each region": each region's name is in it
        shown = [
            str(f.get("text", "")) for f in facts.values() if f.get("kind") == req.params["format"]
        ]
        if not shown:
            return Outcome(req, False, f"no {req.params['format']} file")
        text = " ".join(" ".join(shown).split()).casefold()
        absent = [v for v in req.params["values"]
                   if not re.search(rf"(?<![\w]){re.escape(v.casefold())}(?![\w])", text)]  # fmt: skip
        return Outcome(req, not absent, f"{', '.join(absent[:6])} not named in it")
    if req.kind == "json_key":
        texts = [(n, str(f.get("text", ""))) for n, f in facts.items() if f.get("kind") == "json"]
        missing = [n for n, t in texts if f'"{req.params["key"]}"' not in t]
        return Outcome(req, bool(texts) and not missing, f"no such key in {', '.join(missing)}")
    if req.kind == "placeholders":
        found = [
            (name, text)
            for name, f in facts.items()
            if f.get("kind") in _TEXT_FORMATS
            for text in req.params["texts"]
            if text.lower() in str(f.get("text", "")).lower()
        ]
        detail = "; ".join(f"{n} still says {t!r}" for n, t in found)
        return Outcome(req, not found, detail)
    return None


def how_to_meet(req: Requirement) -> str:
    if req.kind == "bullets":
        n = req.params["n"]
        return f'write exactly {n} items, each with doc.add_paragraph(text, style="List Bullet")'
    if req.kind == "placeholders":
        return "replace the notes' placeholder text with the request's own words"
    if req.kind == "named_each":
        return "give each item its own bullet or slide, with its name as written in the input"
    if req.kind == "json_key":
        return f'name the key exactly "{req.params["key"]}" in the dict you dump'

    return ""


def placeholder_lines(outcomes: Sequence[Outcome], script: str, limit: int = 3) -> list[str]:
    """Where the script writes the placeholder text an unmet outcome found: the line and its
    number, so the repair changes that line instead of writing the same script again."""
    texts = {
        t
        for o in outcomes
        if not o.met and o.requirement.kind == "placeholders"
        for t in o.requirement.params["texts"]
        if t.lower() in o.detail.lower()
    }
    found = []
    for number, line in enumerate(script.splitlines(), 1):
        if any(t in line for t in texts):
            found.append(
                f"line {number} of the script writes placeholder text: `{line.strip()[:160]}` "
                "— write what the request asks for there instead"
            )
    return found[:limit]
