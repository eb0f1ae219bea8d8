"""``promptkiln runs replay``: re-run a recorded script with its recorded inputs (and the recorded
settings that shape a run) in a fresh sandbox, and compare the new files with the recorded ones —
byte for byte, or by content where a format stamps the time (office files' core properties, a
PDF's creation date)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkiln.config import Settings
from promptkiln.errors import UsageError
from promptkiln.making.pipeline import Progress, SandboxRun, _quiet, run_in_sandbox
from promptkiln.records.records import run_body
from promptkiln.records.store import RunRecord, Store, open_store
from promptkiln.sandbox.base import Artifact, InputFile


@dataclass(frozen=True)
class Comparison:
    name: str
    status: str  #: identical | same content | different | missing | new
    detail: str = ""


@dataclass
class ReplayResult:
    record: RunRecord
    run: SandboxRun
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(c.status in ("identical", "same content") for c in self.comparisons)


def replay(
    ref: str,
    out: Path,
    settings: Settings,
    *,
    factory: Any = None,
    overwrite: bool = False,
    progress: Progress = _quiet,
) -> ReplayResult:
    """Re-run a recorded script with its recorded inputs in a fresh sandbox; compare outputs."""
    with open_store(settings) as store:
        rec = store.get_run(ref)
        body = rec.body
        script = body.get("script")
        if not isinstance(script, str):
            raise UsageError(
                f"run {rec.id} has no script to replay"
                + (" (recorded with record_content = 'hashes')" if script else ""),
            )
        inputs = []
        for item in body.get("inputs", []):
            data = store.blobs.get(item["sha256"])
            if data is None:
                raise UsageError(
                    f"input {item['name']} of run {rec.id} is no longer stored",
                    hint="it was removed with its session, or only its hash was recorded",
                )
            inputs.append(InputFile(item["name"], data))
        notes = []
        settings = _recorded_settings(settings, body)
        run = run_in_sandbox(
            script.encode(),
            inputs,
            out,
            settings,
            factory=factory,
            overwrite=overwrite,
            progress=progress,
        )
        recorded_image = (body.get("sandbox") or {}).get("image_id")
        now_image = run.sandbox.extra.get("image_id")
        if recorded_image and now_image and recorded_image != now_image:
            notes.append(f"the image changed since the recording: {recorded_image} -> {now_image}")
        result = ReplayResult(
            rec, run, compare_outputs(store, body.get("outputs", []), run.artifacts), notes
        )
        replay_body = run_body(
            settings, "replay", run=run, script=script, inputs=inputs, session_id=None
        )
        replay_body["replay_of"] = rec.id
        replay_body["replay_matches"] = result.matches
        store.append_run(replay_body)
        return result


def _recorded_settings(settings: Settings, body: dict[str, Any]) -> Settings:
    """The settings to replay under: the recorded backend and limits, the rest as configured."""
    names = {
        "cpus": "cpus",
        "memory_bytes": "memory",
        "pids": "pids",
        "timeout_s": "timeout",
        "disk_bytes": "disk",
        "output_bytes": "output_bytes",
        "output_file_bytes": "output_file_bytes",
        "output_files": "output_files",
        "log_bytes": "log_bytes",
    }
    data = settings.model_dump()
    data["backend"] = body.get("backend") or settings.backend
    data["limits"].update(
        {names[k]: v for k, v in (body.get("limits") or {}).items() if k in names}
    )
    return Settings.model_validate(data)


def compare_outputs(
    store: Store, recorded: Sequence[dict[str, Any]], artifacts: Sequence[Artifact]
) -> list[Comparison]:
    now = {a.name: a for a in artifacts}
    out: list[Comparison] = []
    for item in recorded:
        art = now.pop(item["name"], None)
        if art is None:
            out.append(Comparison(item["name"], "missing", "the replay did not write it"))
        elif art.sha256 == item["sha256"]:
            out.append(Comparison(item["name"], "identical"))
        else:
            old = store.blobs.get(item["sha256"])
            if old is None:
                out.append(
                    Comparison(
                        item["name"], "different", "hash differs; the original bytes are not stored"
                    )
                )
                continue
            same = same_content(old, Path(art.path).read_bytes())
            if same is True:
                out.append(Comparison(item["name"], "same content", "different metadata"))
            else:
                out.append(
                    Comparison(
                        item["name"],
                        "different",
                        "content differs" if same is False else "hash differs",
                    )
                )
    out += [Comparison(name, "new", "not in the recording") for name in now]
    return out


def same_content(a: bytes, b: bytes) -> bool | None:
    """Whether two files hold the same content though their bytes differ: PDF page text (pypdf),
    PNG/JPEG pixels (Pillow), OOXML zip members except docProps/core.xml. None: cannot tell."""
    try:
        if a.startswith(b"%PDF") and b.startswith(b"%PDF"):
            from pypdf import PdfReader

            pa, pb = PdfReader(io.BytesIO(a)), PdfReader(io.BytesIO(b))
            return [p.extract_text() for p in pa.pages] == [p.extract_text() for p in pb.pages]
        if a[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1") and a[:4] == b[:4]:
            from PIL import Image

            ia, ib = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
            return bool(ia.size == ib.size and ia.mode == ib.mode and ia.tobytes() == ib.tobytes())
        if a.startswith(b"PK\x03\x04") and b.startswith(b"PK\x03\x04"):
            return _zip_members(a) == _zip_members(b)
    except Exception:  # a library that cannot parse one side: no content verdict
        return None
    return None


def _zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}
