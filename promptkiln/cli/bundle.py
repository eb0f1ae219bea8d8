"""``promptkiln bundle create|install|verify``: the air-gap bundle commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptkiln.cli.common import load_cli_settings, progress_printer
from promptkiln.cli.render import say
from promptkiln.errors import UsageError

bundle_app = typer.Typer(
    help="One file that carries promptkiln, its sandbox image and its model to a machine "
    "with no network.",
    no_args_is_help=True,
)


@bundle_app.command("create")
def create_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The bundle file to write (.tar.gz).")
    ] = None,
    extras: Annotated[
        str,
        typer.Option("--extras", help="promptkiln extras to carry, comma-separated."),
    ] = "local,validate",
    python_version: Annotated[
        str | None,
        typer.Option("--python-version", help="Target Python, e.g. 3.11 (default: this one)."),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            help="Target pip platform tag, e.g. manylinux_2_17_x86_64 (default: this machine's).",
        ),
    ] = None,
    with_engine: Annotated[
        bool, typer.Option("--with-engine", help="Also carry the Docker engine's Debian packages.")
    ] = False,
    with_gvisor: Annotated[
        bool, typer.Option("--with-gvisor", help="Also carry gVisor's runsc Debian package.")
    ] = False,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Leave the bundled model out (1.1 GB).")
    ] = False,
    pip_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--pip-arg",
            help="Pass an option to pip (repeatable), e.g. --pip-arg=--find-links=DIR.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go in; write nothing.")
    ] = False,
) -> None:
    """Make the bundle on a connected machine: wheels, sandbox image, model, INSTALL text."""
    from promptkiln.bundle.create import Options, create, default_output, plan

    names = tuple(e.strip() for e in extras.split(",") if e.strip())
    if python_version is not None and not python_version.replace(".", "").isdigit():
        raise UsageError(f"--python-version {python_version!r} is not like 3.11")
    options = Options(
        extras=names,
        python_version=python_version,
        platform=platform,
        with_engine=with_engine,
        with_gvisor=with_gvisor,
        with_model=not no_model,
        pip_args=tuple(pip_arg or ()),
    )
    settings = load_cli_settings()
    if dry_run:
        for line in plan(settings, options, progress_printer(False)):
            typer.echo(line)
        return
    dest = (out or default_output()).absolute()
    if dest.exists():
        raise UsageError(f"{dest} already exists", hint="remove it or choose another -o")
    manifest = create(settings, options, dest, progress_printer(False))
    typer.echo(
        f"{dest}: {len(manifest.members)} members, {dest.stat().st_size / 1e6:,.1f} MB "
        f"({manifest.total_bytes / 1e6:,.1f} MB unpacked)"
    )


@bundle_app.command("install")
def install_cmd(
    bundle: Annotated[Path, typer.Argument(help="The bundle file.")],
    venv: Annotated[
        Path, typer.Option("--venv", help="A new directory for promptkiln's venv.")
    ] = Path("~/promptkiln"),
) -> None:
    """Check every member, then install the wheels into a new venv, load the image, place the
    model and run doctor. Opens no network connection."""
    from promptkiln.bundle.install import install

    done = install(bundle, venv, load_cli_settings(), progress_printer(False))
    typer.echo(done.doctor_output.rstrip("\n"))
    typer.echo(f"installed in {done.seconds:.0f} s: {done.venv}/bin/promptkiln")
    if not done.doctor_ok:
        say("error: installed, but `promptkiln doctor` reports a failure (see above) — fix it")
        raise typer.Exit(1)


@bundle_app.command("verify")
def verify_cmd(bundle: Annotated[Path, typer.Argument(help="The bundle file.")]) -> None:
    """Exit 0 when every member matches the manifest; else name the first bad member."""
    from promptkiln.bundle.scan import scan

    manifest = scan(bundle, None, progress_printer(False))
    typer.echo(
        f"{bundle}: all {len(manifest.members)} members match the manifest "
        f"(promptkiln {manifest.promptkiln_version}, Python {manifest.python_version}, "
        f"image {manifest.image_tag} {manifest.image_version})"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(bundle_app, name="bundle")
