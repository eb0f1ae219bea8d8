"""Where the shared red-team corpus is, and what to do when it is not there.

The corpus lives in a ``shared/`` folder beside the repository (``<repo>/../shared``). In CI
(``CI`` set to a true value) it must be there and every shared case runs: a missing corpus fails
the collection loudly. From a plain ``git clone`` with nothing beside it the shared cases are
skipped with :data:`SKIP_REASON`; the project's own attacks and extractor cases always run.

Importable as ``shared_corpus``: tests/conftest.py puts tests/ on ``sys.path`` (importlib mode).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SKIP_REASON = f"shared red-team corpus not found at {SHARED} (outside CI): shared cases skipped"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_path(relative: str) -> Path | None:
    """``shared/<relative>`` if it exists; ``None`` outside CI when it does not; in CI a missing
    corpus raises, so a silently empty red-team suite can never pass there."""
    path = SHARED / relative
    if path.exists():
        return path
    if in_ci():
        raise RuntimeError(
            f"CI is set but the shared red-team corpus is missing: {path} does not exist. "
            f"The shared/ folder must sit beside the repository ({SHARED})."
        )
    return None
