"""A protocol-faithful fake of the Gemini API's ``generateContent`` with code execution.

The real ``google-genai`` SDK talks to it over TCP; every answer is built as the SDK's own
``GenerateContentResponse`` and serialised the way the API spells it (camelCase, bytes as
base64). ``POST /v1beta/models/{model}:generateContent``:

* with the ``codeExecution`` tool: the scripted code runs for real in a fresh Docker sandbox
  (no container survives the call, as with Gemini), inline input parts placed in ``./inputs/``
  as ``input_1.csv``, … ; the answer is ``executableCode`` + ``codeExecutionResult`` (outcome
  ``OUTCOME_OK`` / ``OUTCOME_FAILED`` / ``OUTCOME_DEADLINE_EXCEEDED`` after ``time_limit``
  seconds) + one ``inlineData`` image part per PNG/JPEG the code wrote + the text;
* with ``responseMimeType: application/json``: the scripted JSON as the text part.

Errors are Google's shape: ``{"error": {"code", "message", "status"}}``. A wrong or missing
``x-goog-api-key`` is answered as the Gemini API answers it: not 401 but 400
``INVALID_ARGUMENT`` with an ``ErrorInfo`` detail whose reason is ``API_KEY_INVALID``
("API key not valid. Please pass a valid API key.").
"""

from __future__ import annotations

import base64
import json
import mimetypes
from typing import Any

from google.genai import types

from .common import Container, Error, FakeVendor, StoredFile, json_reply, new_id

STATUS = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}


class FakeGemini(FakeVendor):
    def __init__(self, time_limit: float = 30.0) -> None:
        super().__init__()
        self.time_limit = time_limit

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("x-goog-api-key") == self.api_key)

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        return {"error": {"code": status, "message": message, "status": STATUS.get(status, kind)}}

    def unauthorised(self) -> tuple[int, str, bytes]:
        body = self.error_body(
            400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
        )
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
        return json_reply(400, body)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
        if method == "POST" and path.endswith(":generateContent"):
            return self._generate(self.requests[-1]["body"])
        return json_reply(404, self.error_body(404, "NOT_FOUND", f"no route {path}"))

    def _generate(self, req: dict[str, Any]) -> tuple[int, str, bytes]:
        turn = self.next_turn()
        if isinstance(turn, Error):
            return json_reply(turn.status, turn.body)
        config = req.get("generationConfig") or {}
        if config.get("responseMimeType") == "application/json":
            parts = [types.Part(text=json.dumps(turn.json))]
            return self._reply(parts)
        box = Container(new_id("gemini-run-"))  # nothing persists between calls
        n = 0
        for content in req.get("contents", []):
            for part in content.get("parts", []):
                blob = part.get("inlineData")
                if blob:
                    n += 1
                    mime = blob.get("mimeType") or blob.get("mime_type") or ""  # API takes both
                    ext = mimetypes.guess_extension(mime) or ".bin"
                    data = base64.b64decode(blob["data"])
                    box.add(StoredFile(f"in{n}", f"input_{n}{ext}", data, "user"))
        run = box.execute(turn.code, timeout_s=self.time_limit)
        if run.timed_out:
            outcome, output = types.Outcome.OUTCOME_DEADLINE_EXCEEDED, ""
        elif run.exit_code:
            outcome, output = types.Outcome.OUTCOME_FAILED, run.stderr + run.stdout
        else:
            outcome, output = types.Outcome.OUTCOME_OK, run.stdout
        parts = [
            types.Part(executable_code=types.ExecutableCode(language="PYTHON", code=turn.code)),
            types.Part(
                code_execution_result=types.CodeExecutionResult(outcome=outcome, output=output)
            ),
        ]
        for name, data in run.new:
            mime = mimetypes.guess_type(name)[0] or ""
            if mime in ("image/png", "image/jpeg"):
                parts.append(types.Part(inline_data=types.Blob(mime_type=mime, data=data)))
        parts.append(types.Part(text=turn.text))
        return self._reply(parts)

    def _reply(self, parts: list[types.Part]) -> tuple[int, str, bytes]:
        response = types.GenerateContentResponse(
            candidates=[
                types.Candidate(
                    content=types.Content(role="model", parts=parts),
                    finish_reason=types.FinishReason.STOP,
                    index=0,
                )
            ],
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=90, candidates_token_count=40, total_token_count=130
            ),
            model_version="gemini-fake",
        )
        return json_reply(200, response.model_dump(mode="json", by_alias=True, exclude_none=True))
