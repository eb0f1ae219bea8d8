"""A placeholder where a real title or label belongs: ``Title``, ``Chart title``, ``X``, ``label``.

Small models copy a skeleton and keep its stand-in words. A chart titled ``Title``, an axis
labelled ``Y``, a document whose heading is just ``Title`` is not what anyone asked for. Only
true placeholders count: the whole title or label is one of :data:`WORDS` (a title that merely
contains "Sales" or "Value" is fine), and a word the request itself uses, or that is a column of
the inputs ("value" in a table with a ``value`` column), is not a placeholder there.

Charts are judged on what matplotlib drew (title, suptitle, axis labels, legend entries);
documents on their lines of text that are nothing but a placeholder. A chart saved as an image
file of its own must also have a title when the plan gives it one: nothing else in the file says
what it shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptkiln.checks.requirement import Outcome, Requirement
from promptkiln.plan import Plan

#: Stand-ins, compared case-insensitively with the whole (stripped) title or label.
WORDS = frozenset(
    {
        "title", "chart title", "plot title", "figure title", "graph title", "my chart",
        "my plot", "sample chart", "sample plot", "untitled", "subtitle", "heading",
        "label", "labels", "value", "values", "x", "y", "x label", "y label", "x-axis",
        "y-axis", "x axis", "y axis", "x-axis label", "y-axis label", "x axis label",
        "y axis label", "xlabel", "ylabel", "category", "categories", "series", "series 1",
        "series 2", "series1", "series2", "legend", "data", "text", "lorem ipsum",
    }
)  # fmt: skip
#: Of those, the ones a document line may not be alone (a line "Value" can be a table header).
DOC_WORDS = frozenset(
    {"title", "chart title", "plot title", "untitled", "subtitle", "heading", "lorem ipsum"}
)
_DOC_KINDS = ("pdf", "docx", "pptx", "md", "txt", "html")
_IMAGE_EXT = (".png", ".svg", ".jpg", ".jpeg")


def _planned_titles(plan: Plan | None) -> dict[str, str]:
    """Image file name -> the title the plan gives its (first) chart."""
    if plan is None:
        return {}
    return {
        f.name: f.charts[0].title
        for f in plan.files
        if f.charts and f.name.lower().endswith(_IMAGE_EXT) and f.charts[0].title.strip()
    }


def _allowed(prompt: str, known: Sequence[str], plan: Plan | None) -> set[str]:
    words = {k.strip().lower() for k in known}
    lower = " ".join(prompt.lower().split())
    for w in WORDS:
        if re.search(r"(?<![\w])" + re.escape(w) + r"(?![\w])", lower):
            words.add(w)
    if plan is not None:
        for f in plan.files:
            for c in f.charts:
                words.update(v.lower() for v in (c.x, c.y, c.series) if v)
            for t in f.tables:
                words.update(c.lower() for c in t.columns)
    return words


def placeholder_outcomes(
    plan: Plan | None,
    facts: Mapping[str, Mapping[str, Any]],
    figures: Sequence[dict[str, Any]],
    prompt: str,
    known: Sequence[str] = (),
) -> list[Outcome]:
    """One outcome per file that has charts or text: met unless a placeholder is found."""
    allowed = _allowed(prompt, known, plan)

    def bad(text: object) -> bool:
        t = " ".join(str(text or "").split()).strip(" :").lower()
        return bool(t) and t in WORDS and t not in allowed

    found: dict[str, list[str]] = {}
    titles = _planned_titles(plan)
    for fig in figures:
        where = fig.get("file") if fig.get("file") in facts else None
        hits = found.setdefault(where or _embedding(facts), [])
        if bad(fig.get("suptitle")):
            hits.append(f"its title is {fig['suptitle']!r}")
        planned = titles.get(str(where))
        named = [fig.get("suptitle"), *(ax.get("title") for ax in fig.get("axes") or [])]
        if planned and not any(str(t or "").strip() for t in named):
            hits.append(f"it has no title; give it one (ax.set_title({planned!r}))")
        for ax in fig.get("axes") or []:
            for key, what in (("title", "title"), ("xlabel", "x-axis label"),
                              ("ylabel", "y-axis label")):  # fmt: skip
                if bad(ax.get(key)):
                    hits.append(f"its chart's {what} is {ax[key]!r}")
            hits += [f"its legend says {t!r}" for t in ax.get("legend") or [] if bad(t)]
    for name, f in facts.items():
        for chart in f.get("native_charts") or []:
            if isinstance(chart, dict) and bad(chart.get("title")):
                found.setdefault(name, []).append(f"its chart's title is {chart['title']!r}")
        if f.get("kind") not in _DOC_KINDS:
            continue
        found.setdefault(name, [])
        lines = {" ".join(line.split()) for line in str(f.get("text") or "").splitlines()}
        cells = {" ".join(str(c).split()) for r in f.get("rows") or [] for c in r}
        for line in sorted(lines - cells):  # a table's "Title" column header is no placeholder
            t = line.strip(" :").lower()
            if t in DOC_WORDS and t not in allowed:
                found.setdefault(name, []).append(f"a line says only {line!r}")
    out = []
    for name, hits in found.items():
        if not name:
            continue
        text = f"{name} has real titles and labels, not placeholders"
        req = Requirement("content", text, {"file": name, "check": "placeholders"})
        out.append(Outcome(req, not hits, "; ".join(dict.fromkeys(hits))[:400]))
    return out


def _embedding(facts: Mapping[str, Mapping[str, Any]]) -> str:
    """The delivered document a figure saved to a buffer went into (the first one), or ""."""
    for name, f in facts.items():
        if f.get("kind") in ("pdf", "docx", "pptx", "xlsx", "html"):
            return name
    return ""
