"""The ``gemini`` engine: Gemini code execution, results inline, or structured JSON rendered here.

Gemini's code execution has no container and no file API: results come back inline in the
answer. Image parts (the charts a script draws) become PNG files; the script's text output is
kept as its stdout. A run is limited to 30 s by the vendor (``OUTCOME_DEADLINE_EXCEEDED``), so
route only quick charts and data transforms here. For CSV/XLSX/JSON the structured-output
pattern is used instead: the model answers JSON against a table schema and our own code renders
the file (:mod:`promptkiln.engines.tables`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from promptkiln.engine_settings import EngineSettings
from promptkiln.engines.base import (
    EngineOutput,
    EngineState,
    VendorFile,
    instructions,
    sdk_missing,
)
from promptkiln.engines.tables import TABLE_FORMATS, TABLE_SCHEMA, render_table
from promptkiln.errors import GenerationError
from promptkiln.sandbox.base import InputFile

INPUT_NOTE = "the parts attached to this message"
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}


class GeminiEngine:
    name = "gemini"
    follow_up = True

    def __init__(self, settings: EngineSettings) -> None:
        try:
            from google import genai
            from google.genai import types
        except ImportError as exc:
            raise sdk_missing(self.name, "gemini") from exc
        vendor = settings.vendor("gemini")
        self.model = settings.model("gemini")
        self.types = types
        self.limit_s = settings.gemini_time_limit
        self.client = genai.Client(
            api_key=settings.api_key("gemini"),
            http_options=types.HttpOptions(
                base_url=settings.base_url("gemini"), timeout=int(vendor.request_timeout * 1000)
            ),
        )
        self.contents: list[Any] = []

    def run(
        self,
        prompt: str,
        inputs: Sequence[InputFile],
        formats: Sequence[str],
        state: EngineState,
        *,
        repair: str | None = None,
    ) -> EngineOutput:
        from promptkiln.engines.errors import map_vendor_error

        t = self.types
        structured = bool(formats) and set(formats) <= TABLE_FORMATS
        if repair is None:
            parts = [t.Part.from_text(text=self._ask(prompt, inputs, formats, structured))]
            parts += [t.Part.from_bytes(data=f.data, mime_type=_mime(f.name)) for f in inputs]
            self.contents = [t.Content(role="user", parts=parts)]
        else:
            self.contents.append(t.Content(role="user", parts=[t.Part.from_text(text=repair)]))
        if structured:
            config = t.GenerateContentConfig(
                response_mime_type="application/json", response_schema=TABLE_SCHEMA
            )
        else:
            config = t.GenerateContentConfig(tools=[t.Tool(code_execution=t.ToolCodeExecution())])
        try:
            response = self.client.models.generate_content(
                model=self.model, contents=self.contents, config=config
            )
        except Exception as exc:
            raise map_vendor_error(exc, self.name) from exc
        out = EngineOutput(files=[], text="", model=self.model)
        meta = response.usage_metadata
        if meta is not None:
            out.usage = {
                "input_tokens": meta.prompt_token_count or 0,
                "output_tokens": meta.candidates_token_count or 0,
            }
        if not response.candidates or response.candidates[0].content is None:
            raise GenerationError(
                "Gemini returned no answer", hint="rephrase the prompt, or use another --engine"
            )
        content = response.candidates[0].content
        self.contents.append(content)
        if structured:
            self._render(response.text or "", formats, out)
        else:
            self._read(content.parts or [], out)
        return out

    def _ask(
        self, prompt: str, inputs: Sequence[InputFile], formats: Sequence[str], structured: bool
    ) -> str:
        if structured:
            return (
                prompt
                + "\n\nAnswer with the table as JSON: a file name (without extension), the column "
                "names, and the rows (each cell as text)."
            )
        return (
            prompt
            + "\n\n"
            + instructions(formats, [f.name for f in inputs], INPUT_NOTE)
            + (
                f"\nShow charts with matplotlib (plt.show()); the code must finish within "
                f"{self.limit_s:g} seconds."
            )
        )

    def _read(self, parts: Sequence[Any], out: EngineOutput) -> None:
        images = 0
        for part in parts:
            if part.text:
                out.text += part.text
            if part.executable_code is not None:
                out.code += (part.executable_code.code or "") + "\n"
            result = part.code_execution_result
            if result is not None:
                outcome = str(getattr(result.outcome, "value", result.outcome))
                if outcome == "OUTCOME_DEADLINE_EXCEEDED":
                    out.timed_out = True
                    out.stderr += f"the code ran longer than Gemini's {self.limit_s:g} s limit\n"
                elif outcome == "OUTCOME_FAILED":
                    out.exit_code = 1
                    out.stderr += result.output or ""
                else:
                    out.stdout += result.output or ""
            blob = part.inline_data
            if blob is not None and blob.data and (blob.mime_type or "") in IMAGE_TYPES:
                images += 1
                ext = IMAGE_TYPES[blob.mime_type or ""]
                name = blob.display_name or f"image-{images}.{ext}"
                out.files.append(VendorFile(name, blob.data))

    def _render(self, text: str, formats: Sequence[str], out: EngineOutput) -> None:
        out.text = text
        try:
            table = json.loads(text)
        except ValueError as exc:
            raise GenerationError(
                f"Gemini's structured answer is not JSON ({exc})",
                hint="try again, or use another --engine",
            ) from exc
        for fmt in formats:
            name, data = render_table(table, fmt)
            out.files.append(VendorFile(name, data))

    def close(self) -> None:
        self.client.close()


def _mime(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "text/plain"
