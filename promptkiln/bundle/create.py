"""``promptkiln bundle create``: gather everything an air-gapped machine needs into one file.

Parts, each reported as it is made: the wheels of promptkiln and its dependencies for the chosen
extras and target (pip's own ``wheel --no-deps`` for promptkiln, ``download`` for the rest), the
sandbox image (``docker save`` of the current image, refused when it is missing or stale), the
bundled model (checked against its pinned sha256; assembled first if this machine has none),
optionally gVisor's ``runsc`` package and the Docker engine's Debian packages (``apt-get
download``), and INSTALL.txt. :func:`plan` says what would go in without fetching anything big.
"""

from __future__ import annotations

import json
import platform as host_platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln.bundle.archive import Manifest, Member, Part, describe_parts, write_bundle
from promptkiln.bundle.install_text import install_text
from promptkiln.errors import ImageError, PlatformError, UsageError

if TYPE_CHECKING:
    from promptkiln.config import Settings

Progress = Callable[[str], None]
DEFAULT_EXTRAS = ("local", "validate")
ENGINE_PACKAGE = "docker.io"
GVISOR_PACKAGE = "runsc"


@dataclass(frozen=True)
class Options:
    """What ``bundle create`` puts in; ``None`` target fields mean this machine's."""

    extras: tuple[str, ...] = DEFAULT_EXTRAS
    python_version: str | None = None  #: ``3.11``
    platform: str | None = None  #: a pip platform tag, e.g. ``manylinux_2_17_x86_64``
    with_engine: bool = False
    with_gvisor: bool = False
    with_model: bool = True
    pip_args: tuple[str, ...] = ()  #: extra pip options, e.g. ``--find-links DIR --no-index``


def this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def this_platform() -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def source_root() -> Path:
    """The checkout promptkiln runs from: its own wheel is built from it."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "promptkiln" / "__init__.py").is_file():
        return root
    raise UsageError(
        "bundle create builds promptkiln's wheel from its source, and this promptkiln is not "
        "running from a source checkout",
        hint="run it from a clone of the repository (make install, then .venv/bin/promptkiln)",
    )


def _pip(args: Sequence[str], what: str, cwd: Path | None = None) -> str:
    argv = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if "is ignored" not in line][-6:]
        raise PlatformError(
            f"pip could not {what} (exit {done.returncode}): " + " | ".join(tail),
            hint="check that the package index is reachable (or pass --pip-arg "
            "--find-links=DIR with a local wheelhouse), and the --python-version/--platform",
        )
    return done.stdout


def _target_args(options: Options) -> list[str]:
    if options.python_version is None and options.platform is None:
        return []
    pyver = options.python_version or this_python()
    args = ["--only-binary=:all:", "--implementation=cp", f"--python-version={pyver}"]
    if options.platform:
        args.append(f"--platform={options.platform}")
    return args


def _requirement(wheel: Path, extras: Sequence[str]) -> str:
    tag = f"[{','.join(extras)}]" if extras else ""
    return f"promptkiln{tag} @ {wheel.resolve().as_uri()}"


def build_wheels(options: Options, dest: Path, progress: Progress) -> list[Part]:
    dest.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    progress("wheels: building promptkiln's own wheel (pip wheel --no-deps)")
    _pip(["wheel", "--no-deps", "-q", "-w", str(dest), *options.pip_args, str(source_root())],
         "build promptkiln's wheel")  # fmt: skip
    (own,) = sorted(dest.glob("promptkiln-*.whl"))
    progress(f"wheels: downloading the dependencies of promptkiln[{','.join(options.extras)}]")
    _pip(
        ["download", "-q", "-d", str(dest), *_target_args(options), *options.pip_args,
         _requirement(own, options.extras)],
        "download the dependencies",
    )  # fmt: skip
    wheels = sorted(dest.glob("*.whl"))
    others = sorted(set(dest.iterdir()) - set(wheels))
    if others:
        raise PlatformError(
            f"pip fetched source archives, not wheels: {', '.join(p.name for p in others[:5])}",
            hint="give --python-version/--platform (binary wheels only), or build those wheels",
        )
    total = sum(w.stat().st_size for w in wheels)
    progress(f"wheels: {len(wheels)} wheels, {total / 1e6:,.1f} MB in "
             f"{time.monotonic() - started:.0f} s")  # fmt: skip
    return [Part(f"wheels/{w.name}", "wheel", w.name.split("-")[1], w) for w in wheels]


def _image(settings: Settings) -> tuple[str, str, int]:
    """(tag, version, size) of the current sandbox image; refuses a missing or stale one."""
    from promptkiln.image.status import image_status
    from promptkiln.sandbox.docker import connect

    status = image_status(connect(settings.docker_host), settings.image)
    if status.problem is not None:
        raise ImageError(status.problem, image=settings.image)
    return settings.image, status.version or "", status.size or 0


def save_image(settings: Settings, dest: Path, progress: Progress) -> Part:
    from promptkiln.sandbox.docker import connect

    tag, version, size = _image(settings)
    started = time.monotonic()
    progress(f"image: docker save {tag} (version {version}, {size / 1e6:,.0f} MB)")
    client = connect(settings.docker_host, timeout=600)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"promptkiln-sandbox-{version}.tar"
    with path.open("wb") as fh:
        for chunk in client.api.get_image(tag, chunk_size=4 * 1024 * 1024):
            fh.write(chunk)
    progress(f"image: saved {path.stat().st_size / 1e6:,.0f} MB in "
             f"{time.monotonic() - started:.0f} s")  # fmt: skip
    return Part(f"image/{path.name}", "image", version, path)


def model_part(settings: Settings, progress: Progress) -> Part:
    from promptkiln.llm import local

    spec = local.QWEN_CODER_1_5B
    path = local.ensure_model(settings.local_model, cache_dir=settings.cache, progress=progress)
    progress(f"model: {spec.filename} ({spec.size / 1e6:,.0f} MB), sha256 {spec.sha256[:16]}… ok")
    return Part(f"model/{spec.filename}", "model", spec.version, path)


def engine_packages(with_engine: bool, with_gvisor: bool) -> list[str]:
    """The Debian packages: docker.io and everything it depends on, and/or runsc."""
    if shutil.which("apt-cache") is None:
        raise UsageError(
            "--with-engine/--with-gvisor need apt (a Debian or Ubuntu machine)",
            hint="make the bundle on a Debian/Ubuntu machine like the target",
        )
    names: list[str] = []
    if with_engine:
        done = subprocess.run(
            ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
             "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
             "--no-pre-depends", ENGINE_PACKAGE],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise PlatformError(
                f"apt-cache knows no {ENGINE_PACKAGE}: {done.stderr.strip()[:300]}",
                hint="run apt-get update first",
            )
        names += [line for line in done.stdout.splitlines() if line and line[0].isalnum()]
    if with_gvisor:
        names.append(GVISOR_PACKAGE)
    return sorted(set(names))


def download_debs(names: list[str], kind: str, dest: Path, progress: Progress) -> list[Part]:
    dest.mkdir(parents=True, exist_ok=True)
    progress(f"{kind}: apt-get download {len(names)} package(s)")
    done = subprocess.run(
        ["apt-get", "download", *names], cwd=dest, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PlatformError(
            f"apt-get download failed: {done.stderr.strip()[-400:]}",
            hint="run apt-get update; for gVisor, add its apt repository first",
        )
    debs = sorted(dest.glob("*.deb"))
    return [Part(f"{kind}/{d.name}", kind, d.name.split("_")[1], d) for d in debs]


def _manifest(options: Options, image: str, version: str, members: Sequence[Member]) -> Manifest:
    from promptkiln.version import __version__

    return Manifest(
        promptkiln_version=__version__,
        python_version=options.python_version or this_python(),
        platform=options.platform or this_platform(),
        extras=tuple(options.extras),
        image_tag=image,
        image_version=version,
        members=tuple(members),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        notes={"built_on": f"{host_platform.system()} {host_platform.machine()}"},
    )


def create(settings: Settings, options: Options, out: Path, progress: Progress) -> Manifest:
    """Make the bundle ``out``; returns its manifest. Nothing is written to ``out`` on failure."""
    started = time.monotonic()
    _image(settings)  # a missing or stale image fails before minutes of downloads
    with tempfile.TemporaryDirectory(prefix=".promptkiln-bundle-", dir=out.parent) as tmp:
        work = Path(tmp)
        parts = build_wheels(options, work / "wheels", progress)
        image_part = save_image(settings, work / "image", progress)
        parts.append(image_part)
        if options.with_model:
            parts.append(model_part(settings, progress))
        if options.with_engine:
            names = engine_packages(True, False)
            parts += download_debs(names, "engine", work / "engine", progress)
        if options.with_gvisor:
            parts += download_debs([GVISOR_PACKAGE], "gvisor", work / "gvisor", progress)
        text = install_text(out.name, options.extras, image_part.name, options.with_engine)
        (work / "INSTALL.txt").write_text(text)
        parts.append(Part("INSTALL.txt", "doc", "", work / "INSTALL.txt"))
        described = describe_parts(parts, progress)
        manifest = _manifest(options, settings.image, image_part.version, described)
        size = write_bundle(manifest, parts, out, progress)
    progress(f"bundle {out}: {len(manifest.members)} members, {size / 1e6:,.1f} MB, "
             f"made in {time.monotonic() - started:.0f} s")  # fmt: skip
    return manifest


def plan(settings: Settings, options: Options, progress: Progress) -> list[str]:
    """``--dry-run``: the lines saying what would go in. Resolves the wheels with pip (metadata
    only) but downloads no image, model or package."""
    from promptkiln.llm import local

    lines: list[str] = []
    target = f"Python {options.python_version or this_python()}, " + (
        options.platform or this_platform()
    )
    with tempfile.TemporaryDirectory(prefix=".promptkiln-plan-") as tmp:
        wheel_dir = Path(tmp) / "w"
        _pip(["wheel", "--no-deps", "-q", "-w", str(wheel_dir), *options.pip_args,
              str(source_root())], "build promptkiln's wheel")  # fmt: skip
        (own,) = sorted(wheel_dir.glob("promptkiln-*.whl"))
        report = Path(tmp) / "report.json"
        target_args = _target_args(options)
        if target_args:
            target_args += ["--target", str(Path(tmp) / "t")]
        _pip(["install", "--dry-run", "--ignore-installed", "-q", "--report", str(report),
              *target_args, *options.pip_args, _requirement(own, options.extras)],
             "resolve the dependencies")  # fmt: skip
        items = json.loads(report.read_text()).get("install", [])
    lines.append(f"wheels for {target}: {len(items)}")
    for item in items:
        meta = item.get("metadata", {})
        lines.append(f"  wheels/ {meta.get('name')} {meta.get('version')}")
    tag, version, size = _image(settings)
    lines.append(f"image: {tag} version {version} ({size / 1e6:,.0f} MB before compression)")
    if options.with_model:
        spec = local.QWEN_CODER_1_5B
        desc = local.describe(settings)
        state = "cached here" if desc["present"] else "not on this machine: would be assembled"
        lines.append(f"model: {spec.filename} ({spec.size / 1e6:,.0f} MB, sha256 "
                     f"{spec.sha256[:16]}…; {state})")  # fmt: skip
    if options.with_engine or options.with_gvisor:
        names = engine_packages(options.with_engine, options.with_gvisor)
        lines.append(f"Debian packages: {len(names)}: {' '.join(names)}")
    lines.append("INSTALL.txt")
    return lines


def default_output() -> Path:
    from promptkiln.version import __version__

    return Path(f"promptkiln-bundle-{__version__}-py{this_python()}.tar.gz")


__all__ = ["DEFAULT_EXTRAS", "Options", "create", "default_output", "plan", "this_platform",
           "this_python"]  # fmt: skip
