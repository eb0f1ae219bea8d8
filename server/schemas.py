"""Request and response models of the API (pydantic); they make /openapi.json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _format_names() -> list[JsonValue]:
    from promptkiln.llm.prompts import ALIASES, FORMATS, GENERIC_FORMATS

    return [*sorted({*FORMATS, *GENERIC_FORMATS, *ALIASES})]


#: ``formats`` as documented: the names ``promptkiln make -f`` takes (upper case and a leading
#: dot are accepted too).
_FORMATS: Any = Field(
    default_factory=list,
    max_length=20,
    json_schema_extra={"items": {"type": "string", "enum": _format_names()}},
)


class JobCreate(_Strict):
    """A prompt -> files job (``prompt``) or a run of your own script (``script``): exactly one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["prompt"]}, {"required": ["script"]}],
            "examples": [
                {"script": "open('out.csv', 'w').write('n,sq\\n2,4\\n')\n"},
                {"prompt": "a table of the squares of 1 to 5", "formats": ["csv"]},
            ],
        },
    )

    prompt: str | None = Field(None, max_length=100_000, description="What to make.")
    formats: list[str] = _FORMATS
    inputs: list[str] = Field(default_factory=list, max_length=100, description="file ids")
    model: str | None = Field(None, description="One of the models the server allows.")
    engine: str | None = Field(
        None, description="local, claude, openai, gemini or auto; only engines the server allows."
    )
    attempts: int | None = Field(None, ge=1, le=10)
    time_budget: float | None = Field(
        None,
        gt=0,
        le=24 * 3600,
        description="Seconds a make job may spend on its attempts (the CLI's --time-budget): a "
        "repair starts only when it can end in time. At most the server's own budget.",
    )
    limits: dict[str, float | int | str] | None = Field(
        None, description='Per-job limits, e.g. {"timeout": 60, "memory": "512m"}.'
    )
    script: str | None = Field(None, max_length=1_000_000, description="Your own Python script.")
    allow_ext: list[str] = Field(default_factory=list, max_length=20)
    accept_unmet: bool = Field(
        False,
        description="Attach files that fail a requirement or content check anyway (the job "
        'succeeds, its result still says "status": "unmet").',
    )


class TurnCreate(_Strict):
    """A follow-up turn: the model edits the session's latest files."""

    prompt: str = Field(..., max_length=100_000)
    formats: list[str] = _FORMATS
    inputs: list[str] = Field(default_factory=list, max_length=100)
    attempts: int | None = Field(None, ge=1, le=10)
    limits: dict[str, float | int | str] | None = None


class JobCreated(BaseModel):
    id: str
    object: Literal["job"] = "job"
    status: str


class FileCreated(BaseModel):
    id: str
    object: Literal["file"] = "file"
    name: str
    size: int
    media_type: str
    sha256: str


class ErrorBody(BaseModel):
    type: str
    code: str
    message: str
    hint: str | None = None
    param: str | None = None
    request_id: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class ListResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
    has_more: bool


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 422, 429, 503)
}
