"""Building run records: what one run of a script (or a model's answer) is recorded as.

:func:`run_body` turns a :class:`~promptkiln.making.pipeline.SandboxRun` into the JSON body the store
chains; :func:`record_sandbox_run` is the CLI's (and the server's) hook that appends it with the
blobs ``runs replay`` needs. ``record_content = "hashes"`` keeps only hashes of text.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptkiln.records.blobs import sha256_hex
from promptkiln.records.store import BlobRef, RunRecord, open_store


def _content(text: str | None, full: bool) -> Any:
    """Text as recorded: itself, or only its hash and length when the config says so."""
    if text is None:
        return None
    return text if full else {"sha256": sha256_hex(text.encode()), "chars": len(text)}


def run_body(
    settings: Any,
    kind: str,
    *,
    run: Any = None,
    run_id: str | None = None,
    script: str | None = None,
    prompt: str | None = None,
    response: str | None = None,
    model: str | None = None,
    session_id: str | None = None,
    turn: int | None = None,
    attempt: int | None = None,
    problem: str | None = None,
    inputs: Sequence[Any] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One run record as a JSON-ready dict. ``run`` is a :class:`~promptkiln.making.pipeline.SandboxRun`
    (None when no script ran, e.g. the model's answer had no code); ``inputs`` are InputFiles;
    ``extra`` adds fields (the server's tenant, key id and job id)."""
    import dataclasses
    import datetime
    import getpass
    import uuid

    from promptkiln.version import __version__

    full = settings.record_content == "full"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    body: dict[str, Any] = {
        "id": run_id or (run.run_id if run is not None else uuid.uuid4().hex[:12]),
        "kind": kind,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "user": user,
        "promptkiln": __version__,
        "session_id": session_id,
        "turn": turn,
        "attempt": attempt,
        "model": model,
        "prompt": _content(prompt, full),
        "response": _content(response, full),
        "script": _content(script, full),
        "script_sha256": sha256_hex(script.encode()) if script is not None else None,
        "record_content": settings.record_content,
        "backend": settings.backend,
        "limits": dataclasses.asdict(settings.limits.to_limits()),
        "network": "internet"
        if settings.backend == "e2b" and settings.e2b.allow_internet
        else "none",
        "problem": problem,
        "inputs": [
            {"name": f.name, "bytes": len(f.data), "sha256": sha256_hex(f.data)} for f in inputs
        ],
        "sandbox": None,
        "outputs": [],
    }
    if run is not None:
        r, info = run.result, run.sandbox
        body["sandbox"] = {
            "backend": info.backend,
            "image": info.image,
            "image_id": info.extra.get("image_id"),
            "runtime": info.runtime,
            "network": info.network,
            "extra": dict(info.extra),
        }
        body["network"] = info.network
        body.update(
            exit_code=r.exit_code,
            termination=r.termination.value,
            duration_s=round(r.duration_s, 3),
            timings={k: round(v, 3) for k, v in run.timings.items()},
            stdout={"text": _content(r.stdout.text, full), "dropped": r.stdout.dropped},
            stderr={"text": _content(r.stderr.text, full), "dropped": r.stderr.dropped},
            outputs=[
                {"name": a.name, "bytes": a.size, "type": a.media_type, "sha256": a.sha256}
                for a in run.artifacts
            ],
            rejected=[{"name": x.name, "reason": x.reason} for x in run.rejections],
        )
        if getattr(run, "chart_facts", None):
            body["chart_facts"] = run.chart_facts
    body.update(extra or {})
    return body


def output_blobs(run: Any) -> list[BlobRef]:
    """The delivered outputs of a run, read back from disk (skipping any that changed since)."""
    refs = []
    for a in getattr(run, "artifacts", ()):
        with contextlib.suppress(OSError):
            data = Path(a.path).read_bytes()
            if sha256_hex(data) == a.sha256:
                refs.append(BlobRef("output", a.name, data))
    return refs


def record_sandbox_run(
    settings: Any,
    kind: str,
    run: Any,
    *,
    script: str | None = None,
    inputs: Sequence[Any] = (),
    **extra: Any,
) -> RunRecord:
    """Record one ``promptkiln run``: the CLI's hook. With ``record_content = "full"`` the inputs
    and outputs are kept as blobs so ``runs replay`` can re-run and compare."""
    body = run_body(settings, kind, run=run, script=script, inputs=inputs, **extra)
    blobs: list[BlobRef] = []
    if settings.record_content == "full":
        blobs = [BlobRef("input", f.name, f.data) for f in inputs] + output_blobs(run)
    with open_store(settings) as store:
        return store.append_run(body, blobs)
