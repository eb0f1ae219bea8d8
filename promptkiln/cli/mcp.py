"""``promptkiln mcp``: the MCP server over stdio, for MCP clients (desktop apps, agents)."""

from __future__ import annotations

import typer

from promptkiln.cli.options import (
    ApiBaseOpt,
    AttemptsOpt,
    BackendOpt,
    E2BTemplateOpt,
    ModelOpt,
    RuntimeOpt,
    TemplatesOpt,
    TimeoutOpt,
    pipeline_settings,
)
from promptkiln.errors import ConfigError


def mcp(
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    backend: BackendOpt = None,
    attempts: AttemptsOpt = None,
    timeout: TimeoutOpt = None,
    runtime: RuntimeOpt = None,
    e2b_template: E2BTemplateOpt = None,
    templates: TemplatesOpt = None,
) -> None:
    """Serve the MCP tools (make, run, continue, list_sessions, fetch_file) over stdio."""
    try:
        from promptkiln.server.mcp_server import build
    except ImportError as exc:
        raise ConfigError(
            "the MCP server needs the server extra", hint="pip install 'promptkiln[server]'"
        ) from exc
    settings = pipeline_settings(
        model=model,
        api_base=api_base,
        backend=backend,
        attempts=attempts,
        timeout=timeout,
        runtime=runtime,
        e2b_template=e2b_template,
        templates=templates,
    )
    build(settings).run("stdio")


def register(app: typer.Typer) -> None:
    app.command()(mcp)
