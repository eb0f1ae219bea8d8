"""``promptkiln serve`` and ``promptkiln keys``: the platform server and its API keys."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
from typing import Annotated, Any

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

keys_app = typer.Typer(help="API keys of the server's tenants.", no_args_is_help=True)

LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _store(settings: Any) -> Any:
    from promptkiln.records.store import open_store

    return open_store(settings)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Jobs run at once (default: the CPU count).")
    ] = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    backend: BackendOpt = None,
    attempts: AttemptsOpt = None,
    timeout: TimeoutOpt = None,
    runtime: RuntimeOpt = None,
    e2b_template: E2BTemplateOpt = None,
    templates: TemplatesOpt = None,
    max_queue: Annotated[
        int, typer.Option("--max-queue", help="Queued jobs at most; then 503.")
    ] = 200,
    max_upload: Annotated[
        str, typer.Option("--max-upload", help="Largest upload, e.g. 100m; larger ones get 413.")
    ] = "100m",
    allow_model: Annotated[
        list[str] | None,
        typer.Option("--allow-model", help="Another model a job may ask for (repeatable)."),
    ] = None,
    allow_engine: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-engine",
            help="Another engine a job may ask for: claude, openai, gemini, auto (repeatable; "
            "a vendor engine sends the job's data to that vendor).",
        ),
    ] = None,
    e2b: Annotated[
        bool,
        typer.Option(
            "--e2b/--no-e2b",
            help="Also answer the E2B protocol (E2B_API_URL and E2B_SANDBOX_URL = this server).",
        ),
    ] = True,
    e2b_pool: Annotated[
        int, typer.Option("--e2b-pool", help="Warm E2B sandboxes kept ready per template.")
    ] = 1,
    e2b_max_sandboxes: Annotated[
        int, typer.Option("--e2b-max-sandboxes", help="Live E2B sandboxes at most; then 503.")
    ] = 64,
    e2b_allow_internet: Annotated[
        list[str] | None,
        typer.Option(
            "--e2b-allow-internet",
            help="A tenant whose E2B sandboxes may ask for internet access (repeatable).",
        ),
    ] = None,
) -> None:
    """Run the HTTP API (jobs, files, sessions, runs) on HOST:PORT."""
    import uvicorn

    from promptkiln.config import parse_size
    from promptkiln.server import mcp_http, web
    from promptkiln.server.app import create_app
    from promptkiln.server.deps import ServerOptions
    from promptkiln.server.tenants import any_keys

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
    with _store(settings) as store:
        has_keys = any_keys(store)
    if not is_loopback(host) and not has_keys:
        raise ConfigError(
            f"refusing to listen on {host}: no API keys exist, so anyone who can reach it "
            "could not be told apart",
            hint="create one with `promptkiln keys create --tenant NAME`, or use --host 127.0.0.1",
        )
    try:
        upload = parse_size(max_upload)
    except ValueError as exc:
        raise ConfigError(str(exc), hint="e.g. --max-upload 100m") from exc
    options = ServerOptions(
        workers=workers or os.cpu_count() or 2,
        max_queue=max_queue,
        max_upload_bytes=upload,
        allowed_models=tuple(allow_model or ()),
        allowed_engines=tuple(allow_engine or ()),
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    mcp, mount_mcp = mcp_http.build()
    lifespans: list[Any] = [mcp_http.lifespan(mcp)]

    def extend(app: Any) -> None:
        web.install(app)
        mount_mcp(app)
        if e2b:
            lifespans.append(_e2b(app, settings, e2b_pool, e2b_max_sandboxes, e2b_allow_internet))

    app = create_app(settings, options, extend=extend, lifespans=lifespans)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # uvicorn takes SIGINT/SIGTERM, drains, and re-raises the signal when it is done: let that
    # end here quietly instead of in the CLI's "interrupted" path.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    if not has_keys:
        logging.getLogger("promptkiln.server").warning(
            "no API keys yet: create one with `promptkiln keys create --tenant NAME`"
        )
    server.run()


def _e2b(
    app: Any, settings: Any, pool: int, max_sandboxes: int, allow_internet: list[str] | None
) -> Any:
    """Mount the E2B protocol (promptkiln.server.e2b); the SDK's protocol modules come with the
    ``e2b`` extra."""
    try:
        import e2b  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "serving the E2B protocol needs the e2b SDK's protocol modules",
            hint="pip install 'promptkiln[e2b]', or start the server with --no-e2b",
        ) from exc
    from promptkiln.server.e2b.service import E2BOptions, install

    if pool < 0 or max_sandboxes < 1:
        raise ConfigError(
            "--e2b-pool must be 0 or more and --e2b-max-sandboxes 1 or more",
            hint="e.g. --e2b-pool 1 --e2b-max-sandboxes 64",
        )
    options = E2BOptions(True, pool, max_sandboxes, tuple(allow_internet or ()))
    return install(app, settings, options)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key acts for.")],
    max_active_jobs: Annotated[
        int | None, typer.Option("--max-active-jobs", help="Jobs queued or running at once.")
    ] = None,
    jobs_per_hour: Annotated[
        int | None, typer.Option("--jobs-per-hour", help="Jobs submitted per hour.")
    ] = None,
    upload_bytes_per_hour: Annotated[
        str | None, typer.Option("--upload-bytes-per-hour", help="Upload bytes per hour, e.g. 1g.")
    ] = None,
    max_timeout: Annotated[
        float | None, typer.Option("--max-timeout", help="Most seconds a job may ask for.")
    ] = None,
    max_memory: Annotated[
        str | None, typer.Option("--max-memory", help="Most memory a job may ask for, e.g. 2g.")
    ] = None,
) -> None:
    """Create an API key for TENANT (the tenant is created if new). The key is shown once."""
    from dataclasses import replace

    from promptkiln.config import load_settings, parse_size
    from promptkiln.server.tenants import Caps, create_key, ensure_tenant

    settings = load_settings()
    caps: Caps | None = None
    given = (max_active_jobs, jobs_per_hour, upload_bytes_per_hour, max_timeout, max_memory)
    if any(v is not None for v in given):
        ceiling: dict[str, float] = {}
        if max_timeout is not None:
            ceiling["timeout"] = max_timeout
        try:
            if max_memory is not None:
                ceiling["memory"] = parse_size(max_memory)
            upload = parse_size(upload_bytes_per_hour) if upload_bytes_per_hour else None
        except ValueError as exc:
            raise ConfigError(str(exc), hint="use bytes or a suffix: 512m, 2g") from exc
        base = Caps()
        caps = replace(
            base,
            max_active_jobs=max_active_jobs or base.max_active_jobs,
            jobs_per_hour=jobs_per_hour or base.jobs_per_hour,
            upload_bytes_per_hour=upload or base.upload_bytes_per_hour,
            limits_ceiling=ceiling or None,
        )
    with _store(settings) as store:
        t = ensure_tenant(store, tenant, caps)
        key_id, key = create_key(store, t)
    typer.echo(f"created {key_id} for tenant {t.name} ({t.id}); the key is shown only now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the keys (ids, tenants, state); the keys themselves are not stored."""
    from promptkiln.config import load_settings
    from promptkiln.server.tenants import list_keys

    with _store(load_settings()) as store:
        keys = list_keys(store)
    if json_:
        typer.echo(json.dumps(keys, indent=2))
        return
    if not keys:
        typer.echo("no keys yet: promptkiln keys create --tenant NAME")
    for k in keys:
        state = "revoked" if k["revoked"] else "active"
        typer.echo(f"{k['id']}  {state:<8} {k['tenant']}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (key_…).")]) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    from promptkiln.config import load_settings
    from promptkiln.server.tenants import revoke_key

    with _store(load_settings()) as store:
        revoke_key(store, key_id)
    typer.echo(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
