"""The ``claude`` engine: Anthropic's code execution tool with the Files API (beta).

Inputs are uploaded through the Files API and attached as ``container_upload`` blocks. The model
runs code in Anthropic's container; every content block is walked for produced files
(``bash_code_execution_tool_result`` -> ``bash_code_execution_result`` -> items with ``file_id``,
the older ``code_execution_tool_result`` and the text-editor results too), and each is
downloaded with the Files API under the name in its metadata (untrusted: collection sanitises
it). ``pause_turn`` (a long turn the API paused) is continued with the same container. The
container id is kept with the session so ``continue`` reuses it; when it has expired the
session's files are uploaded into a new one.
"""

from __future__ import annotations

import hashlib
import mimetypes
import pkgutil
import re
from collections.abc import Iterator, Sequence
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
from promptkiln.errors import GenerationError
from promptkiln.sandbox.base import InputFile

FILES_BETA = "files-api-2025-04-14"
OLDEST_TOOL = "20250825"
#: The code-execution tool versions that are still in beta and the header each one needs, as
#: Anthropic's code execution tool docs list them; every newer version needs no beta header.
#: (Never build a header name from the version: an unknown ``anthropic-beta`` name is a 400.)
TOOL_BETAS = {"20250522": "code-execution-2025-05-22", "20250825": "code-execution-2025-08-25"}
INPUT_DIR = "$INPUT_DIR (the container's input directory)"


def newest_tool_version() -> str:
    """The newest ``code_execution_YYYYMMDD`` tool the installed SDK has types for (>= 20250825)."""
    import anthropic.types.beta as beta

    found = [
        m.group(1)
        for info in pkgutil.iter_modules(beta.__path__)
        if (m := re.fullmatch(r"beta_code_execution_tool_(\d{8})", info.name))
    ]
    return max([v for v in found if v >= OLDEST_TOOL], default=OLDEST_TOOL)


def sdk_betas() -> frozenset[str]:
    """The beta names the installed anthropic SDK knows (its ``AnthropicBetaParam`` literals)."""
    import typing

    from anthropic.types import AnthropicBetaParam

    names: set[str] = set()
    for arg in typing.get_args(AnthropicBetaParam):
        names.update(a for a in typing.get_args(arg) if isinstance(a, str))
    return frozenset(names)


def betas_for(version: str) -> list[str]:
    """The ``anthropic-beta`` names a request with the code-execution tool ``version`` sends:
    the tool's documented header (none for the versions after 20250825), and the Files API's
    while the SDK lists it as a beta."""
    betas = [TOOL_BETAS[version]] if version in TOOL_BETAS else []
    if FILES_BETA in sdk_betas():
        betas.append(FILES_BETA)
    return betas


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ClaudeEngine:
    name = "claude"
    follow_up = True

    def __init__(self, settings: EngineSettings) -> None:
        try:
            import anthropic
        except ImportError as exc:
            raise sdk_missing(self.name, "anthropic") from exc
        vendor = settings.vendor("claude")
        self.model = settings.model("claude")
        self.max_continuations = vendor.max_continuations
        self.client = anthropic.Anthropic(
            api_key=settings.api_key("claude"),
            base_url=settings.base_url("claude"),
            timeout=vendor.request_timeout,
            max_retries=0,
        )
        version = newest_tool_version()
        self.tool = {"type": f"code_execution_{version}", "name": "code_execution"}
        self.betas = betas_for(version)
        self.messages: list[dict[str, Any]] = []

    # -- one request ------------------------------------------------------------------------

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

        def ask() -> Any:
            if repair is None:
                self._start_turn(prompt, inputs, formats, state, out)
            else:
                self.messages.append({"role": "user", "content": repair})
            return self._create(state, out)

        def ask_fresh() -> Any:
            self.messages = []
            self._start_turn(prompt, inputs, formats, state, out)
            return self._create(state, out)

        return guarded(self.name, state, out, ask, ask_fresh, lambda m: self._read(m, out, state))

    def _start_turn(
        self,
        prompt: str,
        inputs: Sequence[InputFile],
        formats: Sequence[str],
        state: EngineState,
        out: EngineOutput,
    ) -> None:
        blocks: list[dict[str, Any]] = [
            {
                "type": "text",
                "text": prompt
                + "\n\n"
                + instructions(formats, [f.name for f in inputs], INPUT_DIR),
            }
        ]
        for f in inputs:
            if _sha(f.data) in state.known:  # already in the reused container
                continue
            mime = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
            meta = self.client.beta.files.upload(file=(f.name, f.data, mime), betas=[FILES_BETA])
            out.file_ids.append(meta.id)
            blocks.append({"type": "container_upload", "file_id": meta.id})
            state.known.add(_sha(f.data))
        self.messages.append({"role": "user", "content": blocks})

    def _create(self, state: EngineState, out: EngineOutput) -> Any:
        """One request, continuing ``pause_turn`` answers with the same container."""
        for _ in range(self.max_continuations + 1):
            extra: dict[str, Any] = {"container": state.container_id} if state.container_id else {}
            try:
                message = self.client.beta.messages.create(
                    model=self.model,
                    max_tokens=8192,
                    messages=self.messages,  # type: ignore[arg-type]
                    tools=[self.tool],  # type: ignore[list-item]
                    betas=self.betas,
                    **extra,
                )
            except Exception as exc:
                if state.container_id and is_container_gone(exc):
                    raise ContainerExpired(str(exc)) from exc
                raise
            if message.container is not None:
                state.container_id = message.container.id
            add_usage(out.usage, _usage(message.usage))
            self.messages.append(
                {
                    "role": "assistant",
                    "content": [b.model_dump(exclude_none=True) for b in message.content],
                }
            )
            if message.stop_reason != "pause_turn":
                return message
            out.notes.append("the vendor paused a long turn; continuing it")
            self._read(message, out, state)
        raise GenerationError(
            f"Claude paused the turn more than {self.max_continuations} times",
            hint="ask for less at once, or raise [engines.claude] max_continuations",
        )

    def _read(self, message: Any, out: EngineOutput, state: EngineState) -> None:
        """Text, code, streams and produced files of every content block."""
        for block in message.content:
            data = block.model_dump()
            kind = data.get("type", "")
            if kind == "text":
                out.text += data.get("text", "")
            elif kind == "server_tool_use":
                code = data.get("input", {})
                out.code += str(
                    code.get("command") or code.get("code") or code.get("file_text") or ""
                )
                out.code += "\n"
            elif kind.endswith("_tool_result"):
                content = data.get("content")
                if isinstance(content, dict):
                    if "return_code" in content:
                        out.stdout += content.get("stdout", "")
                        out.stderr += content.get("stderr", "")
                        out.exit_code = out.exit_code or int(content["return_code"])
                    if content.get("error_code"):
                        out.stderr += f"tool error: {content['error_code']}\n"
                        out.exit_code = out.exit_code or 1
                for file_id in _file_ids(content):
                    if file_id in out.file_ids:
                        continue
                    meta = self.client.beta.files.retrieve_metadata(file_id, betas=[FILES_BETA])
                    blob = self.client.beta.files.download(file_id, betas=[FILES_BETA]).read()
                    out.files.append(VendorFile(meta.filename, blob, file_id))
                    out.file_ids.append(file_id)
                    state.known.add(_sha(blob))

    def close(self) -> None:
        self.client.close()


def _file_ids(node: Any) -> Iterator[str]:
    """Every ``file_id`` anywhere inside a tool result (bash, python and text-editor shapes)."""
    if isinstance(node, dict):
        if isinstance(node.get("file_id"), str):
            yield node["file_id"]
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _file_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _file_ids(item)


def _usage(usage: Any) -> dict[str, int]:
    fields = ("input_tokens", "output_tokens", "cache_read_input_tokens")
    return {f: int(getattr(usage, f, 0) or 0) for f in fields}
