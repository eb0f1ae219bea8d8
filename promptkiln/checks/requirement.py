"""A requirement the prompt states, and whether the delivered files meet it: the data the rules
(:mod:`promptkiln.checks.requirements`, :mod:`promptkiln.checks.requirements_text`), the advice
(:mod:`promptkiln.checks.requirements_advice`) and the making loop pass around."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Requirement:
    """One thing the prompt asked for. ``kind`` picks the check; ``text`` is for people."""

    kind: str
    text: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    requirement: Requirement
    met: bool
    detail: str = ""  #: what was found instead, for the repair message

    def to_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement.text, "kind": self.requirement.kind,
                "met": self.met, "detail": self.detail}  # fmt: skip
