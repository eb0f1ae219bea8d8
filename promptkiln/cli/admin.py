"""The housekeeping commands: ``image build|status|e2b-template``, ``gc`` and ``models``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from promptkiln.cli.common import load_cli_settings, progress_printer
from promptkiln.cli.render import clean_line, say

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def register(app: typer.Typer, image_app: typer.Typer) -> None:
    """Add the commands to ``app`` (and the ``image`` group)."""

    @image_app.command("build")
    def image_build(
        tag: Annotated[str | None, typer.Option("--tag", help="Image tag to build.")] = None,
        offline: Annotated[
            bool | None,
            typer.Option("--offline/--online", help="Force the air-gapped or the registry path."),
        ] = None,
    ) -> None:
        """Build the sandbox image (the air-gapped path when no registry is reachable)."""
        from promptkiln.image.build import build_image

        settings = load_cli_settings()
        result = build_image(
            tag or settings.image, offline=offline, progress=progress_printer(False)
        )
        typer.echo(str(getattr(result, "summary", result)))

    @image_app.command("status")
    def image_status_cmd() -> None:
        """Show whether the sandbox image exists and is current."""
        from promptkiln.image.status import image_status
        from promptkiln.sandbox.docker import connect

        settings = load_cli_settings()
        typer.echo(str(image_status(connect(settings.docker_host), settings.image)))

    @image_app.command("e2b-template")
    def image_e2b_template(
        check: Annotated[
            bool, typer.Option("--check", help="Only check the Dockerfile offline; build nothing.")
        ] = False,
        name: Annotated[str | None, typer.Option("--name", help="Template name.")] = None,
        dockerfile: Annotated[
            Path | None, typer.Option("--dockerfile", help="Dockerfile to use (default: images/).")
        ] = None,
    ) -> None:
        """Register images/Dockerfile as an E2B template (or check that E2B can build it)."""
        from promptkiln.image.e2b_template import (
            build_template,
            check_dockerfile,
            default_dockerfile,
        )

        settings = load_cli_settings()
        path = dockerfile or default_dockerfile()
        if check:
            checked = check_dockerfile(path.read_text(), context=path.parent)
            for note in checked.notes:
                say(clean_line(note))
            if not checked.ok:
                for problem in checked.problems:
                    say(f"problem: {clean_line(str(problem))}")
                raise typer.Exit(1)
            typer.echo(f"{path}: E2B can build it as a template")
            return
        info = build_template(
            settings, dockerfile=path, name=name, progress=progress_printer(False)
        )
        typer.echo(f"built E2B template {name or settings.e2b.template}: {info}")

    @app.command()
    def gc(
        everything: Annotated[
            bool, typer.Option("--all", help="Remove every promptkiln sandbox, even of live runs.")
        ] = False,
    ) -> None:
        """Remove containers and volumes left by dead runs."""
        from promptkiln.sandbox.docker import connect, reap

        settings = load_cli_settings()
        removed = reap(connect(settings.docker_host), everything=everything)
        if settings.e2b.api_key or os.environ.get("E2B_API_KEY"):
            from promptkiln.sandbox.e2b_ops import reap as reap_e2b

            removed += reap_e2b(settings, everything=everything)
        from promptkiln import leftovers

        removed += leftovers.sweep()
        from promptkiln.server.e2b.reap import reap as reap_served
        from promptkiln.server.e2b.service import live_server

        removed += reap_served(everything=everything, live_servers=live_server(settings))
        typer.echo(
            f"removed {len(removed)} leftover(s)" + (": " + ", ".join(removed) if removed else "")
        )

    @app.command()
    def models(
        stop: Annotated[
            bool, typer.Option("--stop", help="Stop the bundled model's server.")
        ] = False,
        build_engine: Annotated[
            bool,
            typer.Option(
                "--build-engine",
                help="Compile the bundled model's engine (xllamacpp) for this CPU from its "
                "source on PyPI: faster prompt reading on CPUs with AVX-512 (~11 min on 2 "
                "cores; needs cmake and a C++ compiler).",
            ),
        ] = False,
        json_: JsonOpt = False,
    ) -> None:
        """What model is configured, and what the bundled one is good for."""
        from promptkiln.llm import local, local_engine

        settings = load_cli_settings()
        if build_engine:
            built = local_engine.build_native(settings.home, lambda m: typer.echo(m, err=True))
            local.stop_server(settings.home)  # the next request loads the new engine
            typer.echo(f"engine: {built.summary()}")
            return
        if stop:
            stopped = local.stop_server(settings.home)
            typer.echo(
                "stopped the bundled model's server"
                if stopped
                else "no bundled model server was running"
            )
            return
        info: dict[str, Any] = {
            "configured": settings.model or "(none: the bundled local model is used)",
            "api_base": settings.api_base,
            "bundled": local.describe(settings),
        }
        engine = local_engine.engine_info()
        info["engine"] = {
            "version": engine.version,
            "built_for": list(engine.built_for),
            "cpu_features": list(engine.cpu_has),
            "unused_cpu_features": list(engine.unused),
        }
        if json_:
            typer.echo(json.dumps(info, indent=2, default=str))
            return
        typer.echo(f"configured model: {info['configured']}")
        if settings.api_base:
            typer.echo(f"api base:         {settings.api_base}")
        b = info["bundled"]
        state = (
            "ready" if b["present"] else "not fetched yet (the first `make` assembles it, ~1.1 GB)"
        )
        typer.echo(
            f"bundled model:    {b['name']} ({b['license']}, {b['size_bytes'] / 1e9:.2f} GB) — {state}"
        )
        typer.echo(f"  file:           {b['path']} (from {b['source']})")
        server = f"running at {b['url']} (pid {b['pid']})" if b["server_running"] else "not running"
        if not b["server_installed"]:
            server = f"not installed: {b['install_hint']}"
        typer.echo(f"  server:         {server}")
        typer.echo(f"  engine:         {engine.summary()}")
        typer.echo(f"  good for:       {b['good_for']}")
        typer.echo(f"  bigger model:   {b['bigger_model']}")
