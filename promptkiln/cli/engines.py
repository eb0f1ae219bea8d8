"""``promptkiln engines``: which engines there are, which are usable, and the routing table."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from promptkiln.engine_settings import BASE_URL_VARIABLES, ENGINES
from promptkiln.engines.routing import usability

WHERE = {
    "local": "this machine (litellm + our sandbox); nothing leaves it",
    "claude": "Anthropic's cloud (code execution + Files API)",
    "openai": "OpenAI's cloud (Responses code interpreter)",
    "gemini": "Google's cloud (code execution, 30 s, inline results)",
}


def describe(settings: Any) -> dict[str, Any]:
    """What ``promptkiln engines`` shows, as data (also for the server)."""
    engines = []
    for name in ENGINES:
        state = usability(settings.engines, name)
        usable = state.usable and not (settings.offline and name != "local")
        entry: dict[str, Any] = {
            "engine": name,
            "usable": usable,
            "where": WHERE[name],
            "why_not": "offline = true" if settings.offline and name != "local" else state.why_not,
        }
        if name != "local":
            entry.update(
                key=state.key,
                sdk=state.sdk,
                model=settings.engines.model(name),
                base_url=settings.engines.base_url(name),
                base_url_variable=BASE_URL_VARIABLES[name],
            )
        engines.append(entry)
    return {
        "default": settings.engine,
        "offline": settings.offline,
        "engines": engines,
        "routing": dict(settings.engines.routing),
        "large_data_bytes": settings.engines.large_data_bytes,
    }


def engines_cmd(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """List the engines, whether each is usable (key present, SDK installed), and the routing table."""
    from promptkiln.config import load_settings

    info = describe(load_settings())
    if json_:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(
        f"default engine: {info['default']}" + ("  (offline = true)" if info["offline"] else "")
    )
    for e in info["engines"]:
        mark = "ok  " if e["usable"] else "no  "
        detail = e["where"] + (f"; model {e['model']}" if e.get("model") else "")
        if e.get("base_url"):
            detail += f"; base URL {e['base_url']}"
        typer.echo(f"{mark}  {e['engine']:<7} {detail}")
        if not e["usable"]:
            typer.echo(f"      {'':<7} → {e['why_not']}")
    typer.echo("routing (--engine auto; local when the chosen engine is not usable or offline):")
    for key, engine in info["routing"].items():
        typer.echo(f"      {key:<11} → {engine}")
    typer.echo(f"      (large_data = inputs of {info['large_data_bytes']:,} bytes or more)")


def engine_of(result: Any) -> dict[str, str]:
    """``{"engine", "engine_reason"}`` of a finished make/continue, for ``--json`` output."""
    run = result.attempts[-1].run if result.attempts else None
    extra = run.sandbox.extra if run is not None else {}
    if extra.get("engine"):
        return {"engine": extra["engine"], "engine_reason": extra.get("route", "")}
    return {"engine": "local", "engine_reason": ""}


def register(app: typer.Typer) -> None:
    """Add ``engines`` to the promptkiln app."""
    app.command("engines")(engines_cmd)
