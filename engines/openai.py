"""The ``openai`` engine: the Responses API with the ``code_interpreter`` tool.

Inputs are uploaded with purpose ``user_data`` and passed in the container's ``file_ids``; the
container's memory tier follows ``[limits] memory`` (1g/4g/16g/64g). Produced files come from
``container_file_citation`` annotations and are downloaded at once (containers expire after 20
idle minutes) from the **containers** files endpoint: the plain files endpoint answers 404 for
``cfile_`` ids. Citations are not enough: an answer often cites one file and not the others the
code saved, or none at all, so the container's file listing is always read too and merged with
the citations by file id. Of the listing only files the assistant made (``source`` is not
``user``) and that this session has not seen (ids in the session's known set) are taken; never a
``created_at`` compared with the local clock, which a vendor clock a second behind defeats.
``continue`` reuses the container while it lives, and after expiry uploads the session's files
into a new one.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from typing import Any

from promptkiln.engine_settings import EngineSettings
from promptkiln.engines.base import (
    EngineOutput,
    EngineState,
    VendorFile,
    add_usage,
    guarded,
    instructions,
    sdk_missing,
)
from promptkiln.engines.errors import ContainerExpired, is_container_gone
from promptkiln.sandbox.base import GiB, InputFile

INPUT_DIR = "/mnt/data"
TIERS = (("1g", 1 * GiB), ("4g", 4 * GiB), ("16g", 16 * GiB), ("64g", 64 * GiB))


def memory_tier(memory_bytes: int) -> str:
    """The smallest code-interpreter memory tier that holds ``memory_bytes`` (at most 64g)."""
    return next((name for name, size in TIERS if memory_bytes <= size), "64g")


class OpenAIEngine:
    name = "openai"
    follow_up = True

    def __init__(self, settings: EngineSettings, memory_bytes: int) -> None:
        try:
            import openai
        except ImportError as exc:
            raise sdk_missing(self.name, "openai") from exc
        vendor = settings.vendor("openai")
        self.model = settings.model("openai")
        self.tier = memory_tier(memory_bytes)
        self.client = openai.OpenAI(
            api_key=settings.api_key("openai"),
            base_url=settings.base_url("openai"),
            timeout=vendor.request_timeout,
            max_retries=0,
        )
        self.previous: str | None = None  #: the last response id, for follow-ups

    def run(
        self,
        prompt: str,
        inputs: Sequence[InputFile],
        formats: Sequence[str],
        state: EngineState,
        *,
        repair: str | None = None,
    ) -> EngineOutput:
        out = EngineOutput(files=[], text="", model=self.model)

        def ask_fresh() -> Any:
            self.previous = None
            return self._request(prompt, inputs, formats, state, out, None)

        return guarded(
            self.name,
            state,
            out,
            lambda: self._request(prompt, inputs, formats, state, out, repair),
            ask_fresh,
            lambda r: self._read(r, state, out),
        )

    def _request(
        self,
        prompt: str,
        inputs: Sequence[InputFile],
        formats: Sequence[str],
        state: EngineState,
        out: EngineOutput,
        repair: str | None,
    ) -> Any:
        fresh = [f for f in inputs if _sha(f.data) not in state.known]
        container: Any
        if state.container_id:
            container = state.container_id
            try:
                for f in fresh:  # new inputs go straight into the living container
                    made = self.client.containers.files.create(
                        state.container_id, file=(f.name, f.data)
                    )
                    out.file_ids.append(made.id)
                    state.known.add(_sha(f.data))
            except Exception as exc:
                if is_container_gone(exc):
                    raise ContainerExpired(str(exc)) from exc
                raise
        else:
            ids = []
            for f in fresh:
                uploaded = self.client.files.create(file=(f.name, f.data), purpose="user_data")
                ids.append(uploaded.id)
                state.known.add(_sha(f.data))
            out.file_ids += ids
            container = {"type": "auto", "file_ids": ids, "memory_limit": self.tier}
        text = repair or (
            prompt + "\n\n" + instructions(formats, [f.name for f in inputs], INPUT_DIR)
        )
        try:
            return self.client.responses.create(
                model=self.model,
                input=text,
                tools=[{"type": "code_interpreter", "container": container}],
                previous_response_id=self.previous if repair else None,
            )
        except Exception as exc:
            if state.container_id and is_container_gone(exc):
                raise ContainerExpired(str(exc)) from exc
            raise

    def _read(self, response: Any, state: EngineState, out: EngineOutput) -> None:
        self.previous = response.id
        if response.usage is not None:
            add_usage(
                out.usage,
                {
                    "input_tokens": response.usage.input_tokens,
                    "output_tokens": response.usage.output_tokens,
                },
            )
        cited: list[tuple[str, str, str]] = []  # (container id, file id, name)
        for item in response.output:
            if item.type == "code_interpreter_call":
                state.container_id = item.container_id
                out.code += (item.code or "") + "\n"
                for o in item.outputs or []:
                    if o.type == "logs":
                        out.stdout += o.logs
                if item.status == "failed":
                    out.exit_code = 1
            elif item.type == "message":
                for part in item.content:
                    if part.type != "output_text":
                        continue
                    out.text += part.text
                    for a in part.annotations:
                        if a.type == "container_file_citation":
                            cited.append((a.container_id, a.file_id, a.filename))
        if state.container_id:
            uncited = [
                f
                for f in self._made_files(state.container_id, state)
                if f[1] not in {c[1] for c in cited}
            ]
            if uncited:
                out.notes.append(
                    f"{len(uncited)} file(s) in the container were not cited in the answer: "
                    + ", ".join(name for _, _, name in uncited)
                )
            cited += uncited
        seen: set[str] = set()
        for container_id, file_id, name in cited:
            if file_id in seen:
                continue
            seen.add(file_id)
            # containers files endpoint: the plain files endpoint answers 404 for cfile_ ids
            blob = self.client.containers.files.content.retrieve(
                file_id, container_id=container_id
            ).read()
            out.files.append(VendorFile(name, blob, file_id))
            out.file_ids.append(file_id)
            state.known.update((_sha(blob), file_id))

    def _made_files(self, container_id: str, state: EngineState) -> list[tuple[str, str, str]]:
        """Files the assistant made in the container that this session has not seen: not the
        uploaded inputs (``source`` "user"), not the files of earlier turns (their ids are in
        ``state.known``). Decided by ids alone: the vendor's ``created_at`` is its own clock."""
        found = []
        for f in self.client.containers.files.list(container_id):
            if f.source == "user" or f.id in state.known:
                continue
            found.append((container_id, f.id, posixpath.basename(f.path)))
        return found

    def close(self) -> None:
        self.client.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
