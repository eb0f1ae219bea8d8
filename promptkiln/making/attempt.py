"""What one :func:`~promptkiln.making.make.make` leaves behind: its attempts and its result.

Data only, shared by the local repair loop and the vendor-engine loop (:mod:`promptkiln.making.vendor`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptkiln.checks.requirement import Outcome
from promptkiln.making.failure import Failure
from promptkiln.making.pipeline import SandboxRun
from promptkiln.sandbox.base import Artifact, Rejection


@dataclass
class Attempt:
    """One round of the repair loop, kept in the transcript."""

    number: int
    response: str
    script: str | None
    problem: str | None
    run: SandboxRun | None
    generation_s: float
    temperature: float | None = None
    script_sha256: str | None = None
    failure: Failure | None = None  #: where the script failed (line, exception), if it did
    same_failure_as_previous: bool = False  #: same line, same exception as the attempt before
    repeated_script: bool = False  #: the model first answered with a script that already failed
    stopped: str | None = None  #: "fence" / "repetition": why reading the answer stopped early
    requirements: list[Outcome] = field(default_factory=list)
    hint: str | None = None
    fixes: list[str] = field(default_factory=list)  #: made before running (:mod:`autofix`)
    #: 1..N when this was one of N sampled candidates of the first attempt, else 0.
    candidate: int = 0
    chosen: bool = False  #: the candidate that was kept (delivered, or repaired)
    seconds: float = 0.0  #: the whole attempt: generation, run, validation
    prompt_tokens: int | None = None  #: the request's prompt tokens, when the server said
    prompt_cached: int | None = None  #: of them, reused from the server's prompt cache

    @property
    def key(self) -> str:
        """This attempt among the others of its make(): ``"2"``, or ``"1c2"`` for the second
        candidate of the first round (its run id and staging directory end with it)."""
        return f"{self.number}c{self.candidate}" if self.candidate else str(self.number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "problem": self.problem,
            "seconds": round(self.seconds, 2),
            "generation_s": round(self.generation_s, 2),
            "prompt_tokens": self.prompt_tokens,
            "prompt_cached": self.prompt_cached,
            "temperature": self.temperature,
            "script_sha256": self.script_sha256,
            "failure": None
            if self.failure is None
            else {
                "line": self.failure.line,
                "exception": self.failure.exc_type,
                "message": self.failure.message,
            },
            "same_failure_as_previous": self.same_failure_as_previous,
            "repeated_script": self.repeated_script,
            "stopped": self.stopped,
            "hint": self.hint,
            "fixes": self.fixes,
            "candidate": self.candidate,
            "chosen": self.chosen,
            "requirements": [o.to_dict() for o in self.requirements],
        }


@dataclass
class MakeResult:
    """What :func:`make` returns: the saved files, the final script, the transcript, timings."""

    files: list[Artifact]
    script: str
    attempts: list[Attempt]
    timings: dict[str, float]
    model: str
    run_id: str
    rejections: list[Rejection] = field(default_factory=list)
    #: The prompt's stated requirements and whether the delivered files meet them.
    requirements: list[Outcome] = field(default_factory=list)
    #: Said to the user along with the files (unmet requirements, a crash after the files).
    warnings: list[str] = field(default_factory=list)

    @property
    def attempt_count(self) -> int:
        """Rounds of the repair loop (the candidates of one round count once)."""
        return len({a.number for a in self.attempts})
