"""How an attempt of the repair loop is judged and named: its files' facts for the
requirement checks, how far a failed one got (to pick the candidate to repair), the pixel size a
raster image must have."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkiln.checks.requirements import Requirement
    from promptkiln.making.attempt import Attempt
    from promptkiln.sandbox.base import Artifact


def files_facts(artifacts: Sequence[Artifact]) -> dict[str, dict[str, Any]]:
    from promptkiln.checks.facts import file_facts
    from promptkiln.checks.validate import normalize

    out: dict[str, dict[str, Any]] = {}
    for art in artifacts:
        kind = normalize(Path(art.name).suffix)
        facts = file_facts(Path(art.path), kind)
        if facts:
            out[art.name] = facts
    return out


def raster_size(
    wanted: Sequence[Requirement], formats: Sequence[str]
) -> tuple[int | None, int | None] | None:
    """The pixel size a raster image must have, when the request states one."""
    if not set(formats) & {"png", "jpg", "jpeg", "gif", "webp"}:
        return None
    for req in wanted:
        if req.kind == "size":
            return req.params.get("width"), req.params.get("height")
    return None


#: The temperature of the 2nd..Nth candidates of the first attempt (``--candidates``).
CANDIDATE_TEMPERATURE = 0.7


def tag(attempt: Attempt) -> str:
    return f" (candidate {attempt.candidate})" if attempt.candidate else ""


def score(attempt: Attempt) -> int:
    """How far a failed attempt got, to pick the candidate to repair: valid files that miss
    fewer requirements, then valid files before a crash, then a script that ran, then any."""
    if attempt.run is None:
        return 0
    if attempt.run.artifacts and attempt.requirements:
        return 400 - sum(not o.met for o in attempt.requirements)
    if attempt.run.artifacts:
        return 200
    return 100


def delivery_warnings(
    winner: Attempt, last: int, out_of_time: float | None, *, crashed: bool
) -> list[str]:
    """What the result says beside the files: repairs the time budget stopped (after attempt
    ``last``), a crash after the files were written, each unmet requirement."""
    out = []
    if out_of_time is not None:
        out.append(
            f"repairs stopped after attempt {last}: another would have "
            f"run past the {out_of_time:g} s time budget (--time-budget)"
        )
    if crashed:
        out.append(
            f"the script of attempt {winner.number} crashed after writing these "
            "files (they opened fine; delivered because of --keep-valid-on-crash)"
        )
    out += [
        f"requirement not met: {o.requirement.text} ({o.detail})"
        for o in winner.requirements
        if not o.met
    ]
    return out
