"""A job's terms: its settings from the request body, its status when a check fails, and its
attempts as the API shows them. Pure functions over the request and the result; the run itself
is :mod:`promptkiln.server.execute`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from promptkiln.config import Settings
from promptkiln.errors import ConfigError
from promptkiln.server.errors import job_error

if TYPE_CHECKING:
    from promptkiln.making.attempt import Attempt


def job_settings(base: Settings, request: dict[str, Any]) -> Settings:
    """The server's settings with a job's model, engine, attempts and limits on top (validated)."""
    data = base.model_dump()
    if request.get("model"):
        data["model"] = request["model"]
    if request.get("engine"):
        data["engine"] = request["engine"]
    if request.get("attempts"):
        data["attempts"] = request["attempts"]
    if request.get("time_budget"):  # a job may shorten the server's budget, never lengthen it
        asked = float(request["time_budget"])
        data["time_budget"] = min(asked, base.time_budget) if base.time_budget else asked
    if request.get("accept_unmet"):
        data["accept_unmet"] = True
    data["limits"].update(request.get("limits") or {})
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid {where}: {first['msg']}", hint="fix the value") from exc


def reason_of(error: dict[str, Any] | None) -> str:
    return "capacity" if error is None or error.get("code") == "capacity" else "engine"


def unmet_status(result: dict[str, Any], settings: Any) -> tuple[str, dict[str, Any] | None]:
    """A turn whose files fail a check: ``succeeded`` with ``accept_unmet`` (the files are
    attached, the result still says ``"status": "unmet"``), else ``unmet`` with an error that
    names each failed check (the files stay in the session)."""
    if settings.accept_unmet:
        return "succeeded", None
    from promptkiln.errors import Unmet

    named = [f"{c['requirement']}: {c['detail']}" if c["detail"] else c["requirement"]
             for c in result["checks"]]  # fmt: skip
    exc = Unmet(named, session=result["session_id"].removeprefix("ses_"))
    return "unmet", job_error(exc)


def attempt_json(attempt: Attempt, run_id: str) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "run_id": f"run_{run_id}",
        "ok": attempt.problem is None,
        "problem": attempt.problem,
        "generation_s": round(attempt.generation_s, 3),
    }
