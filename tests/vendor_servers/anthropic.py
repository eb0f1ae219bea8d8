"""A protocol-faithful fake of Anthropic's Messages API with code execution and the Files API.

The real ``anthropic`` SDK talks to it over TCP. Every message it sends is first validated as
the SDK's own ``BetaMessage`` (and files as ``BetaFileMetadata``), so a shape the SDK could not
parse fails here. Endpoints (``?beta=true`` as the SDK sends it):

* ``POST /v1/files`` (multipart) -> file metadata; ``GET /v1/files/{id}`` -> metadata;
  ``GET /v1/files/{id}/content`` -> bytes.
* ``POST /v1/messages`` -> a message whose blocks are ``server_tool_use``
  (``bash_code_execution``) + ``bash_code_execution_tool_result`` -> ``bash_code_execution_result``
  with one ``bash_code_execution_output`` (``file_id``) per produced file, then the text. The
  request's ``container`` (if any) is reused; ``container_upload`` blocks copy files into it;
  an expired or unknown container answers 404 ``not_found_error``. A turn scripted with
  ``pause`` answers ``pause_turn`` first, then the rest when the client continues.

The ``anthropic-beta`` header is checked as the API checks it (docs.anthropic.com/en/api/beta-headers):
a name the API does not know is a 400 ``invalid_request_error`` ("Unexpected value(s) ... for
the `anthropic-beta` header"). The known names are the SDK's ``AnthropicBetaParam`` list plus
the documented ``code-execution-2025-08-25``. A code-execution tool version that is still in
beta (``code_execution_20250522``, ``code_execution_20250825``; docs.anthropic.com/en/docs/
agents-and-tools/tool-use/code-execution-tool) without its header is a 400 too; newer
versions need none.
"""

from __future__ import annotations

import datetime
import mimetypes
import typing
from typing import Any

from anthropic.types import AnthropicBetaParam
from anthropic.types.beta import BetaFileMetadata, BetaMessage

from .common import Container, Error, FakeVendor, StoredFile, Turn, json_reply, multipart, new_id

STATUS_TYPES = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}
#: The tool versions still in beta, and the header each needs (Anthropic's code execution docs).
TOOL_BETAS = {
    "code_execution_20250522": "code-execution-2025-05-22",
    "code_execution_20250825": "code-execution-2025-08-25",
}


def known_betas() -> set[str]:
    literal = next(a for a in typing.get_args(AnthropicBetaParam) if a is not str)
    return set(typing.get_args(literal)) | set(TOOL_BETAS.values())


class FakeAnthropic(FakeVendor):
    def __init__(self) -> None:
        super().__init__()
        self._paused: tuple[Turn, list[dict[str, Any]]] | None = None

    def authorised(self, headers: Any) -> bool:
        # older SDKs send x-api-key, newer ones Authorization: Bearer
        given = headers.get("x-api-key") or (headers.get("Authorization") or "").removeprefix(
            "Bearer "
        )
        return bool(given == self.api_key)

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _meta(self, f: StoredFile) -> dict[str, Any]:
        meta = {
            "id": f.id,
            "type": "file",
            "filename": f.name,
            "mime_type": mimetypes.guess_type(f.name)[0] or "application/octet-stream",
            "size_bytes": len(f.data),
            "created_at": datetime.datetime.fromtimestamp(f.created_at, datetime.UTC).isoformat(),
            "downloadable": f.source == "assistant",
        }
        return BetaFileMetadata.model_validate(meta).model_dump(mode="json", exclude_none=True)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        if method == "POST" and path == "/v1/files":
            name, data = multipart(headers, body)["file"]
            f = StoredFile(new_id("file_"), name or "upload", data, "user")
            self.files[f.id] = f
            return json_reply(200, self._meta(f))
        if method == "GET" and path.startswith("/v1/files/"):
            parts = path.split("/")
            f = self.files.get(parts[3])
            if f is None:
                return json_reply(404, self.error_body(404, "not_found_error", "file not found"))
            if len(parts) == 5 and parts[4] == "content":
                return 200, "application/octet-stream", f.data
            return json_reply(200, self._meta(f))
        if method == "POST" and path == "/v1/messages":
            refused = self._check_betas(headers, self.requests[-1]["body"])
            return refused or self._message(self.requests[-1]["body"])
        return json_reply(404, self.error_body(404, "not_found_error", f"no route {path}"))

    def _check_betas(self, headers: Any, req: dict[str, Any]) -> tuple[int, str, bytes] | None:
        given = [b.strip() for b in (headers.get("anthropic-beta") or "").split(",") if b.strip()]
        unknown = [b for b in given if b not in known_betas()]
        if unknown:
            names = ", ".join(f"`{b}`" for b in unknown)
            return json_reply(
                400,
                self.error_body(
                    400,
                    "invalid_request_error",
                    f"Unexpected value(s) {names} for the `anthropic-beta` header. Please "
                    "consult our documentation at docs.anthropic.com or try again without the "
                    "header.",
                ),
            )
        for i, tool in enumerate(req.get("tools") or []):
            needed = TOOL_BETAS.get(str(tool.get("type")))
            if needed and needed not in given:
                return json_reply(
                    400,
                    self.error_body(
                        400,
                        "invalid_request_error",
                        f"tools.{i}: the tool `{tool['type']}` requires the beta header `{needed}`",
                    ),
                )
        return None

    def _message(self, req: dict[str, Any]) -> tuple[int, str, bytes]:
        if self._paused is not None and req["messages"][-1]["role"] == "assistant":
            turn, _ = self._paused
            self._paused = None
            return self._reply(req, self.containers[req["container"]], [], turn.text)
        cid = req.get("container")
        if cid is not None:
            box = self.containers.get(cid)
            if box is None or box.expired:
                return json_reply(
                    404, self.error_body(404, "not_found_error", f"container {cid} has expired")
                )
        else:
            box = Container(new_id("container_"))
            self.containers[box.id] = box
        last = req["messages"][-1]
        for block in last["content"] if isinstance(last["content"], list) else []:
            if block.get("type") == "container_upload":
                box.add(self.files[block["file_id"]])
        turn = self.next_turn()
        if isinstance(turn, Error):
            return json_reply(turn.status, turn.body)
        run = box.execute(turn.code)
        items = []
        for name, data in run.new:
            f = StoredFile(new_id("file_"), turn.rename.get(name, name), data, "assistant")
            self.files[f.id] = f
            box.add(StoredFile(f.id, name, data, "assistant"))
            items.append({"type": "bash_code_execution_output", "file_id": f.id})
        tool_id = new_id("srvtoolu_")
        blocks: list[dict[str, Any]] = [
            {
                "type": "server_tool_use",
                "id": tool_id,
                "name": "bash_code_execution",
                "input": {"command": f"python3 - <<'PY'\n{turn.code}\nPY"},
            },
            {
                "type": "bash_code_execution_tool_result",
                "tool_use_id": tool_id,
                "content": {
                    "type": "bash_code_execution_result",
                    "stdout": run.stdout,
                    "stderr": run.stderr,
                    "return_code": 124 if run.timed_out else run.exit_code,
                    "content": items,
                },
            },
        ]
        if turn.pause:
            self._paused = (turn, blocks)
            return self._reply(req, box, blocks, None)
        return self._reply(req, box, blocks, turn.text)

    def _reply(
        self, req: dict[str, Any], box: Container, blocks: list[dict[str, Any]], text: str | None
    ) -> tuple[int, str, bytes]:
        content = list(blocks)
        if text is not None:
            content.append({"type": "text", "text": text})
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
        message = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": req["model"],
            "content": content,
            "container": {"id": box.id, "expires_at": expires.isoformat()},
            "stop_reason": "pause_turn" if text is None else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 50},
        }
        return json_reply(200, BetaMessage.model_validate(message).model_dump(mode="json"))
