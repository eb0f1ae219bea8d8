"""Sessions: a conversation whose state lives in the store, not in a sandbox.

A turn restores the session's latest files into ``./inputs/`` of a fresh sandbox (through
``make(existing=...)``, so every backend works unchanged), tells the model which files
exist, replays the earlier prompts and final scripts as prior messages (trimmed to a budget),
records every attempt as a run record as it happens, and on success stores the files the
script wrote as new versions. A turn killed midway stays "running" in the store and changes
nothing else: the session's workspace is only updated in the transaction that closes a turn.

Re-running a recorded script is :mod:`promptkiln.making.replay`; reading a stored file version
is :mod:`promptkiln.records.sessions`.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln import leftovers
from promptkiln.config import Settings, load_settings
from promptkiln.errors import UsageError
from promptkiln.making.attempt import Attempt, MakeResult
from promptkiln.making.make import make
from promptkiln.making.pipeline import (
    deliver_dir,
    make_generator,
    read_inputs,
)
from promptkiln.records.records import output_blobs, run_body
from promptkiln.records.store import BlobRef, NewFile, open_store, sha256_hex
from promptkiln.sandbox.base import Artifact, InputFile

if TYPE_CHECKING:
    from promptkiln.llm.generate import CodeGenerator, Generation, Message, Sampling

Progress = Callable[[str], None]

#: Earlier turns replayed to the model, at most, and their total size in characters.
HISTORY_TURNS = 4
HISTORY_CHARS = 12_000


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class TurnResult:
    """One finished turn: the session, its number, the pipeline's result, what changed."""

    session_id: str
    turn: int
    result: MakeResult
    delivered: list[Artifact]  #: the files as written into ``out``
    versions: list[tuple[str, int]]  #: (name, version) of each new file version
    new_session: bool = False


class _WithHistory:
    """A generator that slips the session's earlier turns in after the system prompt."""

    def __init__(self, inner: CodeGenerator, model: str, history: Sequence[Message]) -> None:
        self.inner = inner
        self.model = model
        self.history = list(history)

    def generate(
        self, messages: Sequence[Message], *, on_token: Callable[[str], None] | None = None
    ) -> Generation:
        msgs = list(messages)
        return self.inner.generate([*msgs[:1], *self.history, *msgs[1:]], on_token=on_token)

    def with_sampling(self, sampling: Sampling) -> _WithHistory:
        """The same history over the inner generator with other sampling (when it has any)."""
        inner = getattr(self.inner, "with_sampling", None)
        return _WithHistory(inner(sampling), self.model, self.history) if callable(inner) else self


def history_messages(
    turns: Sequence[sqlite3.Row], *, max_turns: int = HISTORY_TURNS, max_chars: int = HISTORY_CHARS
) -> list[Message]:
    """Earlier successful turns as user/assistant message pairs, newest kept first: at most
    ``max_turns`` turns and ``max_chars`` characters; a script too long to fit is summarised."""
    from promptkiln.llm.generate import Message

    pairs: list[tuple[str, str]] = []
    used = 0
    for t in reversed([t for t in turns if t["status"] == "ok" and t["prompt"]]):
        if len(pairs) >= max_turns:
            break
        script = t["script"] or ""
        answer = f"```python\n{script}\n```"
        if used + len(t["prompt"]) + len(answer) > max_chars:
            if pairs:
                break
            answer = "(the script is too long to repeat; the files it made are in ./inputs/)"
        pairs.append((t["prompt"], answer))
        used += len(t["prompt"]) + len(answer)
    out = []
    for prompt, answer in reversed(pairs):
        out += [Message("user", prompt), Message("assistant", answer)]
    return out


def _size(n: int) -> str:
    return (
        f"{n} bytes" if n < 1024 else f"{n / 1024:.1f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"
    )


def workspace_note(rows: Sequence[sqlite3.Row]) -> str:
    listed = "; ".join(
        f"{r['name']} (v{r['version']}, {_size(r['bytes'])}"
        + (", given by the user)" if r["role"] == "input" else ")")
        for r in rows
    )
    return (
        f"\n\nThis continues an earlier request. The session's current files are in ./inputs/: "
        f"{listed}. Start from them (open the file in ./inputs/, do not recreate it from "
        "nothing), and write each updated or new file to the working directory under the same "
        "name. Files you do not write stay as they are."
    )


def guess_formats(prompt: str, previous: Sequence[str]) -> list[str]:
    """Formats named in a follow-up ("…also export it as XLSX"), else the previous turn's."""
    from promptkiln.llm.prompts import ALIASES, FORMATS, GENERIC_FORMATS

    words = re.findall(r"[a-z0-9]+", prompt.lower())
    known = set(FORMATS) | set(GENERIC_FORMATS)
    named = [ALIASES.get(w, w) for w in words if ALIASES.get(w, w) in known]
    return list(dict.fromkeys(named)) or list(previous)


def run_turn(
    prompt: str,
    *,
    session: str | None = None,
    last: bool = False,
    formats: Sequence[str] = (),
    inputs: Sequence[Path] = (),
    out: Path = Path("out"),
    settings: Settings | None = None,
    generator: CodeGenerator | None = None,
    factory: Any = None,
    overwrite: bool = False,
    progress: Progress = _quiet,
    on_token: Callable[[str], None] | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    new_id: str | None = None,
    record_extra: dict[str, Any] | None = None,
    on_record: Callable[[Attempt, str], None] | None = None,
) -> TurnResult:
    """Run one turn: a new session when ``session`` is None and not ``last``, else a follow-up.

    ``on_attempt`` is called after each attempt is recorded (the transcript as it happens),
    ``on_record(attempt, run_id)`` too, with the id of the attempt's run record. ``new_id``
    names a new session (default: a random one); ``record_extra`` adds fields to every run
    record (the server's tenant, key and job).

    Raises what :func:`promptkiln.making.make.make` raises; the turn is then recorded as failed
    (every attempt's run record is already written) and the session is unchanged.
    """
    settings = settings or load_settings()
    full = settings.record_content == "full"
    new = session is None and not last
    if not prompt.strip():
        hint = 'say what to make, e.g. "a bar chart of ..."' if new else "say what to change"
        raise UsageError("the prompt is empty", hint=hint)
    # Bad arguments fail before anything is created (no empty session, no model server).
    from promptkiln.llm.prompts import normalize_format

    formats = [normalize_format(f) for f in formats]
    if new and not (formats or guess_formats(prompt, [])):
        raise UsageError("no output format requested", hint="pass at least one, e.g. --format pdf")
    given = read_inputs(list(inputs))
    with open_store(settings) as store:
        if new:
            sid = new_id or uuid.uuid4().hex
            store.create_session(
                sid,
                prompt.strip().splitlines()[0][:80],
                settings.model,
                settings.api_base,
                settings.backend,
            )
        else:
            sid = store.last_session() if last else store.resolve_session(session or "")
        turns = store.turns(sid)
        workspace = store.workspace(sid)
        restored: list[InputFile] = []
        for row in workspace:
            data = store.file_bytes(row)
            if data is None:
                raise UsageError(
                    f"session {sid[:12]}: the bytes of {row['name']} v{row['version']} are gone "
                    "(record_content = 'hashes' keeps no copy, and the delivered file changed)",
                    hint=f"put the file back at {row['delivered']}, or start a new session",
                )
            restored.append(InputFile(row["name"], data))
        given_names = {f.name for f in given}
        restored = [f for f in restored if f.name not in given_names]
        all_inputs = restored + given  # the order make() places them in
        previous = next(
            (_json_list(t["formats"]) for t in reversed(turns) if t["status"] == "ok"), []
        )
        fmts = list(formats) or guess_formats(prompt, previous)
        if not fmts and not workspace:
            raise UsageError(
                f"session {sid[:12]} has no files yet (no earlier turn produced any), so there "
                "is no format to keep",
                hint="name the output format, e.g. -f pdf, or say it in the prompt",
            )
        number = store.begin_turn(sid, prompt, fmts, full)
        progress(f"session {sid[:12]}, turn {number}")
        gen: _WithHistory | None = None
        vendor = _vendor_engine(settings, fmts, all_inputs)
        if vendor:  # a vendor engine writes the files: no local model is loaded
            model_name = f"{vendor}:{settings.engines.model(vendor)}"
        else:
            inner, model_name = make_generator(generator, settings, progress)
            gen = _WithHistory(inner, model_name, history_messages(turns))
        model_prompt = prompt + (workspace_note(workspace) if workspace else "")
        run_ids: list[str] = []
        fallback_id = uuid.uuid4().hex[:12]

        def record(attempt: Attempt) -> None:
            rid = attempt.run.run_id if attempt.run else f"{fallback_id}-{attempt.key}"
            body = run_body(
                settings,
                "make" if new else "continue",
                run=attempt.run,
                run_id=rid,
                script=attempt.script,
                prompt=prompt,
                response=attempt.response,
                model=model_name,
                session_id=sid,
                turn=number,
                attempt=attempt.number,
                problem=attempt.problem,
                inputs=all_inputs,
                extra=record_extra,
            )
            blobs: list[BlobRef] = []
            if full:
                blobs = [BlobRef("input", f.name, f.data) for f in all_inputs]
                if attempt.problem is None and attempt.run is not None:
                    blobs += output_blobs(attempt.run)
            store.append_run(body, blobs)
            run_ids.append(rid)
            if on_attempt is not None:
                on_attempt(attempt)
            if on_record is not None:
                on_record(attempt, rid)

        staging = leftovers.owned_tempdir("turn")
        try:
            try:
                result = make(
                    model_prompt,
                    formats=fmts,
                    inputs=list(inputs),
                    out=staging,
                    settings=settings,
                    generator=gen,
                    factory=factory,
                    overwrite=True,
                    progress=progress,
                    on_token=on_token,
                    existing=restored,
                    on_attempt=record,
                    session_id=sid,
                )
                delivered = deliver_dir(staging, out, settings, overwrite, fmts)
            except BaseException as exc:
                store.end_turn(sid, number, ok=False, run_ids=run_ids, problem=str(exc)[:2000])
                raise
            where = _match_delivered(result.files, delivered)
            files = [
                NewFile(a.name, Path(a.path).read_bytes(), "output", a.media_type, path)
                for a, path in zip(result.files, where, strict=True)
            ]
            files += [
                NewFile(f.name, f.data, "input", "", str(p.resolve()))
                for f, p in zip(given, inputs, strict=True)
            ]
            rows = store.end_turn(
                sid, number, ok=True, run_ids=run_ids, script=result.script, files=files, full=full
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return TurnResult(
            sid, number, result, delivered, [(r["name"], r["version"]) for r in rows], new
        )


def _vendor_engine(settings: Settings, formats: Sequence[str], inputs: Sequence[InputFile]) -> str:
    """The vendor engine this turn is routed to, or "" for the local pipeline."""
    if settings.engine == "local":
        return ""
    from promptkiln.engines.run import route_for

    chosen = route_for(settings, formats, inputs).engine
    return "" if chosen == "local" else chosen


def _match_delivered(staged: Sequence[Artifact], delivered: Sequence[Artifact]) -> list[str | None]:
    """Where each staged file ended up in ``out`` (its name there may carry a suffix)."""
    left = list(delivered)
    paths: list[str | None] = []
    for art in staged:
        same = [d for d in left if d.sha256 == art.sha256]
        hit = next((d for d in same if d.name == art.name), same[0] if same else None)
        if hit is not None:
            left.remove(hit)
        paths.append(str(Path(hit.path).resolve()) if hit else None)
    return paths


def _json_list(text: str) -> list[str]:
    import json

    value = json.loads(text or "[]")
    return [str(v) for v in value] if isinstance(value, list) else []


__all__ = [
    "TurnResult",
    "guess_formats",
    "history_messages",
    "run_turn",
    "sha256_hex",
]
