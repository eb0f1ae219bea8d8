"""The content checks of one request, as the repair loop uses them.

:class:`ContentJudge` is made once per request with the plan (None when there is none), the
inputs and the sandbox settings. The first attempt whose files are valid makes it compute the
expected numbers (one extra sandbox run, only when the plan has charts or tables with data);
every attempt then gets its outcomes from :func:`promptkiln.checks.content.check`, and, with no
inputs, from :func:`promptkiln.checks.content_stated.stated_outcomes`. Without a plan, only what
needs none is checked: placeholder titles and labels, the request's own numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptkiln.checks.content_expected import Expected, Spec, specs_for

if TYPE_CHECKING:
    from promptkiln.checks.requirement import Outcome
    from promptkiln.config import Settings
    from promptkiln.making.pipeline import Progress, SandboxFactory
    from promptkiln.plan import Plan, Profile
    from promptkiln.sandbox.base import InputFile


class ContentJudge:
    def __init__(
        self,
        settings: Settings,
        inputs: Sequence[InputFile],
        prompt: str,
        *,
        factory: SandboxFactory | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings, self.inputs, self.prompt = settings, list(inputs), prompt
        self.factory, self.progress = factory, progress
        self.plan: Plan | None = None
        self.profile: Profile | None = None
        self._expected: dict[str, Expected] | None = None
        self._specs: list[Spec] = []
        #: seconds spent computing the expected values (for the timings)
        self.seconds = 0.0

    def expected(self) -> tuple[list[Spec], dict[str, Expected]]:
        """The plan's specs and their expected values, computed on first use."""
        if self._expected is None:
            import time

            from promptkiln.errors import PromptkilnError
            from promptkiln.making.expected import compute

            t0 = time.monotonic()
            self._specs = specs_for(self.plan, self.profile) if self.plan is not None else []
            self._expected = {}
            try:
                if self._specs:
                    self._expected = compute(
                        self._specs,
                        self.inputs,
                        self.settings,
                        factory=self.factory,
                        progress=self.progress,
                        prompt=self.prompt,
                    )
            except PromptkilnError as exc:  # no expected numbers: those checks are not made
                if self.progress is not None:
                    self.progress(f"could not compute the expected numbers ({exc.message})")
            self.seconds = time.monotonic() - t0
        return self._specs, self._expected

    def known_words(self) -> list[str]:
        """Column names of the inputs: never placeholders."""
        if self.profile is None:
            return []
        return [c.name for i in self.profile.inputs for t in i.tables for c in t.columns]

    def outcomes(
        self,
        facts: Mapping[str, Mapping[str, Any]],
        figures: Sequence[dict[str, Any]] | None,
    ) -> list[Outcome]:
        from promptkiln.checks.content import check
        from promptkiln.checks.content_columns import listed_columns
        from promptkiln.checks.content_stated import kind_outcomes, stated_outcomes

        specs, expected = self.expected()
        known = self.known_words()
        found = check(self.plan, specs, expected, facts, figures, self.prompt, known)
        found += listed_columns(self.plan, facts, known)  # a listing names its columns
        if not self.inputs:  # a chart of the request's own numbers draws them, plan or none
            found += stated_outcomes(self.prompt, facts, figures)
        found += kind_outcomes(self.prompt, facts, figures)  # "as a pie": a pie is drawn
        if self.plan is None:  # no plan: only the placeholders that were found
            found = [o for o in found if not o.met]
        return found
