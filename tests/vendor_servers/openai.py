"""A protocol-faithful fake of OpenAI's Responses API with ``code_interpreter`` and containers.

The real ``openai`` SDK talks to it over TCP; every response is validated as the SDK's own type
(``Response``, ``FileObject``, the container file types) before it is sent. Endpoints:

* ``POST /v1/files`` (multipart, ``purpose=user_data``) -> ``file-…`` ids.
* ``GET /v1/files/{id}/content`` -> bytes for ``file-…`` ids, **404 for ``cfile_…``** (the real
  API's trap: container files live only under the containers endpoint).
* ``POST /v1/responses`` -> ``code_interpreter_call`` + ``message`` with
  ``container_file_citation`` annotations (left out when the turn says ``cite=False``, only
  the named files with ``cite_only``: the model decides what it cites). The
  tool's ``container`` is a container id (reused; expired/unknown answers 404) or
  ``{"type": "auto", "file_ids", "memory_limit"}`` (a new container with those files).
* ``POST /v1/containers/{id}/files`` (multipart), ``GET /v1/containers/{id}/files``,
  ``GET /v1/containers/{id}/files/{cfile}/content``.

``created_at`` is the vendor's clock (Unix seconds): ``clock_skew_s`` sets it apart from the
local one, as a real server's clock is.
"""

from __future__ import annotations

import time
from typing import Any

from openai.types import FileObject
from openai.types.containers import FileCreateResponse, FileListResponse
from openai.types.responses import Response

from .common import Container, Error, FakeVendor, StoredFile, json_reply, multipart, new_id


class FakeOpenAI(FakeVendor):
    def __init__(self) -> None:
        super().__init__()
        self.memory_limits: list[str | None] = []
        #: Set to 413 to refuse uploads as too large (the real API's limit is 512 MB per file).
        self.upload_status = 200
        #: The vendor's clock minus the local one, in seconds (negative: the vendor is behind).
        self.clock_skew_s = 0.0

    def now(self) -> int:
        return int(time.time() + self.clock_skew_s)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.api_key}")

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}

    def _cfile(self, box: Container, f: StoredFile) -> dict[str, Any]:
        row = {
            "id": f.id,
            "object": "container.file",
            "bytes": len(f.data),
            "container_id": box.id,
            "created_at": f.created_at,
            "path": f"/mnt/data/{f.name}",
            "source": f.source,
        }
        return FileListResponse.model_validate(row).model_dump(mode="json")

    def _gone(self, cid: str) -> tuple[int, str, bytes]:
        return json_reply(
            404, self.error_body(404, "invalid_request_error", f"Container {cid} not found")
        )

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/files":
            if self.upload_status == 413:
                return json_reply(
                    413, self.error_body(413, "invalid_request_error", "File is too large")
                )
            form = multipart(headers, body)
            name, data = form["file"]
            purpose = form["purpose"][1].decode()
            f = StoredFile(new_id("file-"), name or "upload", data, "user", self.now())
            self.files[f.id] = f
            obj = {
                "id": f.id,
                "object": "file",
                "bytes": len(data),
                "created_at": f.created_at,
                "filename": f.name,
                "purpose": purpose,
                "status": "processed",
            }
            return json_reply(200, FileObject.model_validate(obj).model_dump(mode="json"))
        if method == "GET" and parts[:2] == ["v1", "files"] and parts[-1] == "content":
            f = self.files.get(parts[2])
            if f is None or parts[2].startswith("cfile_"):
                return json_reply(
                    404,
                    self.error_body(
                        404, "invalid_request_error", f"No such File object: {parts[2]}"
                    ),
                )
            return 200, "application/octet-stream", f.data
        if method == "POST" and path == "/v1/responses":
            return self._respond(self.requests[-1]["body"])
        if parts[:2] == ["v1", "containers"] and len(parts) >= 4 and parts[3] == "files":
            box = self.containers.get(parts[2])
            if box is None or box.expired:
                return self._gone(parts[2])
            if method == "POST" and len(parts) == 4:
                name, data = multipart(headers, body)["file"]
                f = StoredFile(new_id("cfile_"), name or "upload", data, "user", self.now())
                box.add(f)
                made = FileCreateResponse.model_validate(self._cfile(box, f))
                return json_reply(200, made.model_dump(mode="json"))
            if method == "GET" and len(parts) == 4:
                rows = [self._cfile(box, f) for f in box.files.values()]
                page = {
                    "object": "list",
                    "data": rows,
                    "first_id": rows[0]["id"] if rows else None,
                    "last_id": rows[-1]["id"] if rows else None,
                    "has_more": False,
                }
                return json_reply(200, page)
            if method == "GET" and len(parts) == 6 and parts[5] == "content":
                hit = next((f for f in box.files.values() if f.id == parts[4]), None)
                if hit is None:
                    return json_reply(404, self.error_body(404, "not_found", "no such file"))
                return 200, "application/octet-stream", hit.data
        return json_reply(404, self.error_body(404, "not_found", f"no route {path}"))

    def _respond(self, req: dict[str, Any]) -> tuple[int, str, bytes]:
        tool = req["tools"][0]
        spec = tool["container"]
        if isinstance(spec, str):
            box = self.containers.get(spec)
            if box is None or box.expired:
                return self._gone(spec)
        else:
            box = Container(new_id("cntr_"))
            self.containers[box.id] = box
            self.memory_limits.append(spec.get("memory_limit"))
            for fid in spec.get("file_ids", []):
                src = self.files[fid]
                box.add(StoredFile(new_id("cfile_"), src.name, src.data, "user", self.now()))
        turn = self.next_turn()
        if isinstance(turn, Error):
            return json_reply(turn.status, turn.body)
        run = box.execute(turn.code)
        annotations = []
        text = turn.text
        for name, data in run.new:
            f = StoredFile(new_id("cfile_"), name, data, "assistant", self.now())
            box.add(f)
            if turn.cite_only is not None and name not in turn.cite_only:
                continue
            shown = turn.rename.get(name, name)
            start = len(text)
            text += f" [{shown}](sandbox:/mnt/data/{shown})"
            annotations.append(
                {
                    "type": "container_file_citation",
                    "container_id": box.id,
                    "file_id": f.id,
                    "filename": shown,
                    "start_index": start,
                    "end_index": len(text),
                }
            )
        response = {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": time.time(),
            "model": req["model"],
            "status": "completed",
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": req["tools"],
            "output": [
                {
                    "type": "code_interpreter_call",
                    "id": new_id("ci_"),
                    "code": turn.code,
                    "container_id": box.id,
                    "status": "failed" if run.exit_code else "completed",
                    "outputs": [{"type": "logs", "logs": run.stdout + run.stderr}],
                },
                {
                    "type": "message",
                    "id": new_id("msg_"),
                    "role": "assistant",
                    "status": "completed",
                    "content": [
                        {
                            "type": "output_text",
                            "text": text,
                            "annotations": annotations if turn.cite else [],
                        }
                    ],
                },
            ],
            "usage": {
                "input_tokens": 120,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": 60,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 180,
            },
        }
        return json_reply(200, Response.model_validate(response).model_dump(mode="json"))
