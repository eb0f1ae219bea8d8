"""Every process and code-interpreter cell an E2B client runs is a run record, in the same hash
chain as ``make`` and ``run`` jobs, linked to the tenant (``GET /runs`` shows it to that tenant
only). What is kept of the script and its output follows ``record_content``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from promptkiln.records.records import run_body
from promptkiln.records.store import Store
from promptkiln.server.e2b.fleet import SandboxRecord
from promptkiln.server.sessions import link_run

log = logging.getLogger("promptkiln.server.e2b")

#: The most of a stream a record keeps (before hashing, when ``record_content = "hashes"``).
MAX_STREAM = 64 * 1024


def _clip(text: str) -> dict[str, Any]:
    return {"text": text[-MAX_STREAM:], "dropped": max(0, len(text) - MAX_STREAM)}


class Recorder:
    """Appends a run record for a finished process or cell (see :data:`fleet.Recorder`)."""

    def __init__(self, settings: Any, open_store: Any) -> None:
        self.settings = settings
        self._open_store = open_store

    def __call__(
        self,
        record: SandboxRecord,
        kind: str,
        script: str,
        exit_code: int | None,
        stdout: str,
        stderr: str,
        duration_s: float,
    ) -> None:
        run_id = uuid.uuid4().hex[:12]
        box = record.box
        body = run_body(
            self.settings,
            kind,
            run_id=run_id,
            script=script,
            extra={"tenant": record.tenant_id, "key_id": record.key_id},
        )
        full = self.settings.record_content == "full"
        out, err = _clip(stdout), _clip(stderr)
        body.update(
            backend="e2b-serve",
            network="internet" if box.network else "none",
            sandbox={
                "backend": "e2b-serve",
                "image": box.image,
                "runtime": box.spec.runtime or "runc",
                "network": "internet" if box.network else "none",
                "extra": {"sandbox_id": record.sandbox_id, "template": record.template},
            },
            exit_code=exit_code,
            termination="exited" if exit_code is not None else "killed",
            duration_s=round(duration_s, 3),
            stdout=out if full else {"chars": len(stdout), "dropped": out["dropped"]},
            stderr=err if full else {"chars": len(stderr), "dropped": err["dropped"]},
        )
        try:
            store: Store = self._open_store()
            try:
                store.append_run(body)
                link_run(store, run_id, record.tenant_id, record.key_id, "")
            finally:
                store.close()
        except Exception:  # a record that cannot be written must not break the sandbox
            log.exception("could not record E2B run %s of sandbox %s", run_id, record.sandbox_id)
