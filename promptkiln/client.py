"""``promptkiln.Client``: the server's API from Python, shaped like the local :func:`make`.

>>> client = Client("http://127.0.0.1:8080", api_key="pk_…")
>>> result = client.make("Bar chart of quarterly revenue", formats=["png"], out=Path("out"))
>>> [a.name for a in result.files]
['revenue.png']

Each call uploads the inputs, submits a job, follows its events (progress lines go to
``progress``, as locally; the stream resumes with ``Last-Event-ID`` if the connection drops),
and downloads the files into ``out`` under the same rules as a local run (never overwriting
unless asked). A job that fails raises :class:`RemoteJobFailed` with the server's message,
hint and the CLI's exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from promptkiln.errors import PromptkilnError, UsageError
from promptkiln.sandbox.base import Artifact

Progress = Callable[[str], None]
EventHook = Callable[[str, dict[str, Any]], None]
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
RETRY_MAX_S = 10.0  #: a 429/503 asking to wait longer than this is not retried


class RemoteJobFailed(PromptkilnError):
    """A job on the server ended without its files; ``code`` and ``job`` say how."""

    def __init__(self, job: Mapping[str, Any]) -> None:
        err = job.get("error") or {}
        status = job.get("status", "failed")
        super().__init__(
            err.get("message") or f"the job {job.get('id')} ended {status}",
            hint=err.get("hint"),
        )
        self.job = dict(job)
        self.code = err.get("code") or status
        self.exit_code = int(err.get("exit_code") or (130 if status != "failed" else 70))
        #: Where the script failed (``{"line", "code", "exception"}``) and the tails of its
        #: stderr and stdout, when the server's error carries them.
        self.failing_line: dict[str, Any] | None = err.get("failing_line")
        self.stderr_tail: str = err.get("stderr_tail") or ""
        self.stdout_tail: str = err.get("stdout_tail") or ""


class ApiRequestError(PromptkilnError):
    """The server refused a request (4xx/5xx): its one-line message and hint."""

    def __init__(self, status: int, error: Mapping[str, Any]) -> None:
        super().__init__(
            f"{error.get('message') or 'request failed'} (HTTP {status})", hint=error.get("hint")
        )
        self.status = status
        self.code = error.get("code")
        self.request_id = error.get("request_id")


@dataclass
class ClientResult:
    """A finished job: its JSON, the files as written into ``out``, its session."""

    job: dict[str, Any]
    files: list[Artifact] = field(default_factory=list)

    @property
    def session_id(self) -> str | None:
        value = self.job.get("session_id")
        return str(value) if value else None

    @property
    def id(self) -> str:
        return str(self.job["id"])


def _quiet(_: str) -> None:
    return None


class Client:
    """One server, one API key (default ``$PROMPTKILN_API_KEY``). Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        key = api_key or os.environ.get("PROMPTKILN_API_KEY")
        if not key:
            raise UsageError(
                "no API key for the promptkiln server",
                hint="pass api_key= or set PROMPTKILN_API_KEY (promptkiln keys create --tenant NAME)",
            )
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls that mirror local make / continue / run --------------------------------------

    def make(
        self,
        prompt: str,
        *,
        formats: Sequence[str] = (),
        inputs: Sequence[Path] = (),
        out: Path = Path("out"),
        model: str | None = None,
        attempts: int | None = None,
        limits: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        progress: Progress = _quiet,
        on_event: EventHook | None = None,
    ) -> ClientResult:
        """Prompt -> files on the server, then into ``out``."""
        body: dict[str, Any] = {"prompt": prompt, "formats": list(formats)}
        body.update(_optional(model=model, attempts=attempts, limits=limits))
        body["inputs"] = [self.upload(p) for p in inputs]
        job_id = self.submit(body)
        return self.finish(job_id, out, overwrite=overwrite, progress=progress, on_event=on_event)

    def continue_(
        self,
        session: str,
        prompt: str,
        *,
        formats: Sequence[str] = (),
        inputs: Sequence[Path] = (),
        out: Path = Path("out"),
        attempts: int | None = None,
        overwrite: bool = False,
        progress: Progress = _quiet,
        on_event: EventHook | None = None,
    ) -> ClientResult:
        """A follow-up turn of ``session`` (like ``promptkiln continue``)."""
        body: dict[str, Any] = {"prompt": prompt, "formats": list(formats)}
        body.update(_optional(attempts=attempts))
        body["inputs"] = [self.upload(p) for p in inputs]
        job_id = self._post_job(f"/v1/sessions/{session}/turns", body)
        return self.finish(job_id, out, overwrite=overwrite, progress=progress, on_event=on_event)

    def run(
        self,
        script: str | Path,
        *,
        inputs: Sequence[Path] = (),
        out: Path = Path("out"),
        allow_ext: Sequence[str] = (),
        overwrite: bool = False,
        progress: Progress = _quiet,
        on_event: EventHook | None = None,
    ) -> ClientResult:
        """Run your own script (code, or a path to it) in the server's sandbox."""
        code = script.read_text() if isinstance(script, Path) else script
        body = {
            "script": code,
            "inputs": [self.upload(p) for p in inputs],
            "allow_ext": list(allow_ext),
        }
        job_id = self.submit(body)
        return self.finish(job_id, out, overwrite=overwrite, progress=progress, on_event=on_event)

    # -- the parts ------------------------------------------------------------------------------

    def upload(self, path: Path) -> str:
        """Upload one input file; its id."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read input file {path}: {exc.strerror or exc}") from exc
        answer = self._check(self.http.post("/v1/files", files={"file": (Path(path).name, data)}))
        return str(answer["id"])

    def submit(self, body: Mapping[str, Any], *, idempotency_key: str | None = None) -> str:
        """Queue a job; its id. A retried submit with the same key never runs twice."""
        return self._post_job("/v1/jobs", body, idempotency_key)

    def _post_job(
        self, path: str, body: Mapping[str, Any], idempotency_key: str | None = None
    ) -> str:
        key = idempotency_key or uuid.uuid4().hex
        for attempt in range(5):
            try:
                response = self.http.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                if attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
                continue
            wait = float(response.headers.get("retry-after", "0") or 0)
            if response.status_code in (429, 503) and attempt < 4 and 0 < wait <= RETRY_MAX_S:
                time.sleep(wait)  # a full queue or too many jobs at once: it passes
                continue
            return str(self._check(response)["id"])
        raise AssertionError("unreachable")

    def job(self, job_id: str) -> dict[str, Any]:
        return self._check(self.http.get(f"/v1/jobs/{job_id}"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._check(self.http.post(f"/v1/jobs/{job_id}/cancel"))

    def events(self, job_id: str, *, after: int = 0) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(id, type, data) of each event until the job ends; reconnects with Last-Event-ID."""
        last = after
        while True:
            headers = {"Last-Event-ID": str(last)} if last else {}
            try:
                with self.http.stream(
                    "GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=None
                ) as response:
                    if response.status_code != 200:
                        response.read()
                        self._check(response)
                    for seq, type_, data in _parse_sse(response.iter_lines()):
                        last = seq
                        yield seq, type_, data
                        if type_ == "status" and data.get("status") in TERMINAL:
                            return
            except (httpx.TransportError, httpx.StreamError):
                time.sleep(0.5)
            else:
                time.sleep(0.2)  # the stream ended without a final status: resume

    def wait(
        self, job_id: str, *, progress: Progress = _quiet, on_event: EventHook | None = None
    ) -> dict[str, Any]:
        """Follow the job to its end; its final JSON."""
        for _, type_, data in self.events(job_id):
            if on_event:
                on_event(type_, data)
            if type_ == "progress":
                progress(str(data.get("message", "")))
        return self.job(job_id)

    def finish(
        self,
        job_id: str,
        out: Path,
        *,
        overwrite: bool = False,
        progress: Progress = _quiet,
        on_event: EventHook | None = None,
    ) -> ClientResult:
        job = self.wait(job_id, progress=progress, on_event=on_event)
        if job["status"] != "succeeded":
            raise RemoteJobFailed(job)
        return ClientResult(job, self.download(job, out, overwrite=overwrite))

    def download(
        self, job: Mapping[str, Any], out: Path, *, overwrite: bool = False
    ) -> list[Artifact]:
        """The job's files into ``out``, under the local collection rules (atomic, no overwrite
        unless asked, names sanitised, hashes checked)."""
        from promptkiln.config import load_settings
        from promptkiln.making.pipeline import deliver_dir
        from promptkiln.records.store import sha256_hex
        from promptkiln.sandbox.names import UnsafeName, extension_of, sanitize_name

        files = list(job.get("files") or [])
        if not files:
            return []
        staging = Path(tempfile.mkdtemp(prefix="promptkiln-download-"))
        try:
            for f in files:
                try:
                    name = sanitize_name(str(f["name"]))
                except UnsafeName as exc:
                    raise UsageError(f"the server sent an unsafe file name: {exc}") from exc
                response = self.http.get(f"/v1/files/{f['id']}/content")
                if response.status_code != 200:
                    self._check(response)
                if sha256_hex(response.content) != f["sha256"]:
                    raise UsageError(
                        f"{name} arrived damaged (its sha256 does not match)", hint="download again"
                    )
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(response.content)
            allow = {extension_of(str(f["name"])) for f in files}
            return deliver_dir(
                staging, out, load_settings(), overwrite, sorted(a for a in allow if a)
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {}
            except (ValueError, AttributeError):
                error = {"message": response.text[:200]}
            raise ApiRequestError(response.status_code, error)
        data: dict[str, Any] = response.json()
        return data


def _optional(**values: Any) -> dict[str, Any]:
    return {
        k: (dict(v) if isinstance(v, Mapping) else v) for k, v in values.items() if v is not None
    }


def _parse_sse(lines: Iterator[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Server-Sent Events: ``id``, ``event`` and ``data`` fields, a blank line ends one."""
    seq, type_, data = 0, "message", ""
    for line in lines:
        if not line:
            if data:
                yield seq, type_, json.loads(data)
            type_, data = "message", ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            seq = int(value)
        elif name == "event":
            type_ = value
        elif name == "data":
            data += value
