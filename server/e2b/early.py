"""A claimed warm sandbox's state on the host, for the moment before its container has it.

A claim answers the client at once and writes the state into the container a moment later
(fleet.py); until then the state is a file ``<home>/e2b-sandboxes/<id>.json`` (written
atomically), so a server killed in that moment still adopts the sandbox at its next start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class EarlyStates:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def _path(self, sandbox_id: str) -> Path | None:
        if self.directory is None or not sandbox_id.isalnum():
            return None
        return self.directory / f"{sandbox_id}.json"

    def write(self, sandbox_id: str, state: dict[str, Any], end_at: float) -> None:
        path = self._path(sandbox_id)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**state, "end_at": end_at}))
        tmp.replace(path)

    def read(self, sandbox_id: str) -> tuple[dict[str, Any], float]:
        """The state and deadline written for ``sandbox_id`` (``{}``, 0 when there is none)."""
        path = self._path(sandbox_id)
        try:
            state = json.loads(path.read_text()) if path is not None else {}
        except (OSError, ValueError):
            return {}, 0.0
        return state, float(state.pop("end_at", 0.0))

    def drop(self, sandbox_id: str) -> None:
        path = self._path(sandbox_id)
        if path is not None:
            path.unlink(missing_ok=True)
