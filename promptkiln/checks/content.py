"""Content checks: the files show what the plan's data gives, checked by trusted code.

The judge (:mod:`promptkiln.attempt_loop`) calls :func:`check` after the requirement checks,
with the plan, the expected values (:mod:`promptkiln.checks.content_expected`, computed once
per request in the sandbox), the facts of each file (:mod:`promptkiln.facts`) and what
matplotlib drew (:mod:`promptkiln.checks.chart_facts`). Each check is an
:class:`~promptkiln.requirements.Outcome` of kind ``content`` whose text says what the file
must show and whose detail says what it shows instead, in words for the user and the repair
prompt ("the bar chart in chart.png shows the sum of Revenue per Region, but it shows
East=1200 (expected East=3400)"). An unmet one makes the result ``unmet``.

A check that cannot be made (no facts for a chart drawn without matplotlib, a plan file name
no delivered file has, numbers the data cannot give) is left out, never passed nor failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from promptkiln.checks.content_charts import check_chart
from promptkiln.checks.content_docs import check_table, rows_of
from promptkiln.checks.content_expected import Expected, Spec
from promptkiln.checks.content_filter import filtered
from promptkiln.checks.placeholders import placeholder_outcomes
from promptkiln.checks.requirement import Outcome, Requirement
from promptkiln.plan import Plan

IMAGE_KINDS = ("png", "jpg", "jpeg", "svg", "gif", "webp")


def check(
    plan: Plan | None,
    specs: Sequence[Spec],
    expected: Mapping[str, Expected],
    facts: Mapping[str, Mapping[str, Any]],
    figures: Sequence[dict[str, Any]] | None,
    prompt: str,
    known: Sequence[str] = (),
) -> list[Outcome]:
    """The content outcomes of one attempt's files. ``known`` are words that are not
    placeholders here (the inputs' column names)."""
    names = list(facts)
    hooked = figures is not None  # the image's hook ran: a saved figure would be listed
    figures = list(figures or [])
    out: list[Outcome] = []
    for spec in specs:
        name = match_file(spec.file, names)
        if name is None:
            continue
        want = expected.get(spec.id)
        if want is None or want.error:
            continue
        req = Requirement(
            "content",
            f"the {spec.noun()} in {name} shows {spec.describe()}",
            {"file": name, "spec": spec.id},
        )
        axes: list[dict[str, Any]] = []
        rows: list[list[str]] = []
        if spec.part == "chart":
            axes = axes_for(name, facts.get(name, {}), figures, names)
            if not axes and hooked and facts.get(name, {}).get("kind") in IMAGE_KINDS:
                # an image of a planned chart that no fig.savefig wrote (a canvas printed
                # by hand, PIL): what it draws cannot be checked, so it is not delivered
                req = Requirement(req.kind, req.text, {**req.params, "check": "unrecorded"})
                detail = f"no matplotlib figure was saved as {name}, so what it draws is unknown"
                out.append(Outcome(req, False, detail))
                continue
            if not axes:
                continue
        else:
            rows = rows_of(facts.get(name, {}))
        problem = _judged(spec, want, axes, rows)
        if problem is None and spec.part == "table":  # "only the ones with over 100 units"
            problem = filtered(spec, want, rows, prompt)
        out.append(Outcome(req, problem is None, problem or ""))
    out += placeholder_outcomes(plan, facts, figures, prompt, known)
    return out


def _judged(
    spec: Spec, want: Expected, axes: list[dict[str, Any]], rows: list[list[str]]
) -> str | None:
    """None when the file shows what the data gives, or the subset of it the request names
    ("2024 revenue"); when the request names one subset as the only rows it means, that
    subset and nothing else."""
    required = [alt for alt in want.alternatives if alt.required]
    if required:
        problems = [_judge(spec, alt, axes, rows) for alt in required]
        if any(p is None for p in problems):
            return None
        where = f"the rows where {required[0].filter}, the subset the request names"
        if _judge(spec, want, axes, rows) is None:
            return f"it shows the whole table, not {where}: {problems[0]}"
        first = str(problems[0])
        return first if first.startswith("no ") else f"{first}, for {where}"
    problem = _judge(spec, want, axes, rows)
    if problem is not None and any(
        _judge(spec, alt, axes, rows) is None for alt in want.alternatives
    ):
        return None  # it shows the subset the request names ("2024 revenue")
    return problem


def _judge(
    spec: Spec, want: Expected, axes: list[dict[str, Any]], rows: list[list[str]]
) -> str | None:
    return check_chart(spec, want, axes) if spec.part == "chart" else check_table(spec, want, rows)


def match_file(planned: str, names: Sequence[str]) -> str | None:
    """The delivered file the plan's file name means: the same name, the same base name, or
    the only delivered file of its type."""
    if planned in names:
        return planned
    base = PurePosixPath(planned).name.lower()
    same = [n for n in names if PurePosixPath(n).name.lower() == base]
    if len(same) == 1:
        return same[0]
    suffix = PurePosixPath(planned).suffix.lower()
    typed = [n for n in names if PurePosixPath(n).suffix.lower() == suffix]
    return typed[0] if len(typed) == 1 else None


def axes_for(
    name: str,
    facts: Mapping[str, Any],
    figures: Sequence[dict[str, Any]],
    delivered: Sequence[str],
) -> list[dict[str, Any]]:
    """The axes drawn for a file: the figures saved as it, or, for a document that embeds
    charts, the figures not saved as any delivered file."""
    own = [f for f in figures if f.get("file") == name]
    if not own and facts.get("kind") not in IMAGE_KINDS:
        own = [f for f in figures if f.get("file") not in delivered]
    axes = [ax for f in own for ax in f.get("axes") or [] if isinstance(ax, dict)]
    return axes + [native_axes(c) for c in facts.get("native_charts") or [] if isinstance(c, dict)]


def native_axes(chart: Mapping[str, Any]) -> dict[str, Any]:
    """A native PowerPoint chart as the hook's axes facts: a bar container per series, a line
    per series, or a pie's wedges, so the same chart checks judge it."""
    kind = str(chart.get("kind", "")).upper()
    series = [s for s in chart.get("series") or [] if isinstance(s, dict)]
    ax: dict[str, Any] = {"title": str(chart.get("title") or ""), "legend": [],
                          "bars": [], "lines": [], "wedges": []}  # fmt: skip
    for s in series:
        cats, values = list(s.get("categories") or []), list(s.get("values") or [])
        name = str(s.get("name") or "") or None
        if "PIE" in kind or "DOUGHNUT" in kind:
            total = sum(v for v in values if isinstance(v, int | float) and v > 0) or 1.0
            ax["wedges"] += [{"label": c, "fraction": (v or 0) / total}
                             for c, v in zip(cats, values, strict=False)]  # fmt: skip
        elif "LINE" in kind:
            ax["lines"].append({"label": name, "x": cats, "y": values})
        else:
            bars = [{"category": c, "pos": float(i), "value": v, "bottom": 0.0}
                    for i, (c, v) in enumerate(zip(cats, values, strict=False))]  # fmt: skip
            ax["bars"].append({"label": name, "horizontal": kind.startswith("BAR"), "bars": bars})
    return ax
