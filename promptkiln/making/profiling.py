"""The inputs' profile, computed in a sandbox: the trusted script run over ``./inputs/``.

The same sandbox factory the attempts use (the warm pool, when there is one), the same inputs,
a shorter time limit. What the script prints is validated by :mod:`promptkiln.checks.profile`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptkiln.config import Settings
    from promptkiln.making.pipeline import Progress, SandboxFactory
    from promptkiln.plan import Profile
    from promptkiln.sandbox.base import InputFile

#: Seconds the profiling script may run.
TIMEOUT_S = 60.0


def profile_inputs(
    inputs: Sequence[InputFile],
    settings: Settings,
    *,
    factory: SandboxFactory | None,
    progress: Progress,
    run_id: str = "profile",
) -> Profile | None:
    """The profile of ``inputs`` (None when there are none). A sandbox failure gives every
    input an ``error``; it never raises for what the inputs hold."""
    from promptkiln.checks.profile import failed, parse, profile_script
    from promptkiln.making.pipeline import run_in_sandbox

    if not inputs:
        return None
    progress(f"profiling {len(inputs)} input file{'s' if len(inputs) != 1 else ''} in the sandbox")
    limits = settings.limits.model_copy(update={"timeout": min(settings.limits.timeout, TIMEOUT_S)})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="promptkiln-profile-") as tmp:
        run = run_in_sandbox(
            profile_script(),
            inputs,
            Path(tmp) / "out",
            settings.model_copy(update={"limits": limits}),
            factory=factory,
            run_id=run_id,
        )
    problem = run.problem(limits.timeout)
    if problem is not None:
        tail = run.result.stderr.text.strip().splitlines()[-1:] or [""]
        return failed(inputs, f"{problem} {tail[0][:160]}".strip())
    profile = parse(run.result.stdout.data)
    if isinstance(profile, str):
        return failed(inputs, profile)
    progress(f"profiled the inputs in {time.monotonic() - started:.1f} s")
    return profile
