"""``promptkiln bundle install``: a bundle onto a machine with no way out.

Order, so that a bad bundle changes nothing and a failure leaves nothing half-installed:

1. every member is checked against the manifest while it is unpacked into a private staging
   directory beside the venv (a damaged bundle stops here, naming the member);
2. the Docker engine must answer (before the venv is made);
3. a new venv at ``--venv`` gets the wheels with ``pip install --no-index --find-links`` and no
   pip configuration (so no index is ever asked);
4. ``docker load`` of the image, checked for the tag and version the manifest names;
5. the model is moved into the cache where the bundled-model code looks for it (temp name, then
   rename) and checked once more;
6. ``DIR/bin/promptkiln doctor`` runs.

A failure in 3-5 removes the venv this command made (and an image it loaded that was not there
before); the staging directory is always removed. Nothing here opens a network connection:
pip runs with ``--no-index``, and Docker is reached over its local socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.bundle.archive import Manifest
from promptkiln.bundle.scan import scan
from promptkiln.errors import EngineError, ImageError, PlatformError, UsageError

if TYPE_CHECKING:
    from promptkiln.config import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Installed:
    venv: Path
    manifest: Manifest
    image: str
    model: Path | None
    doctor_ok: bool
    doctor_output: str
    seconds: float


def _check_python(manifest: Manifest) -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if manifest.python_version != here:
        raise UsageError(
            f"the bundle's wheels are for Python {manifest.python_version}, this is Python {here}",
            hint=f"run `bundle install` with a Python {manifest.python_version} "
            "(or make the bundle with --python-version " + here + ")",
        )


def _check_venv(venv: Path) -> None:
    if venv.exists() and (not venv.is_dir() or any(venv.iterdir())):
        raise UsageError(
            f"{venv} already exists and is not empty",
            hint="give --venv a new directory; an existing install is never overwritten",
        )


def _clean_env() -> dict[str, str]:
    """The environment for pip: no configuration file and no PIP_* settings, so that only the
    bundle's wheels are seen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _make_venv(venv: Path, manifest: Manifest, wheels: Path, progress: Progress) -> None:
    started = time.monotonic()
    progress(f"venv: {venv}")
    done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise PlatformError(
            f"cannot make a venv at {venv}: {done.stderr.strip()[-300:]}",
            hint="install Python's venv module (python3-venv), or check the directory",
        )
    spec = "promptkiln" + (f"[{','.join(manifest.extras)}]" if manifest.extras else "")
    progress(f"wheels: pip install --no-index {spec} ({len(manifest.of_kind('wheel'))} wheels)")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--find-links",
         str(wheels), "-q", f"{spec}=={manifest.promptkiln_version}"],
        capture_output=True, text=True, check=False, env=_clean_env(),
    )  # fmt: skip
    if done.returncode != 0:
        raise PlatformError(
            f"pip could not install the bundle's wheels: {done.stderr.strip()[-500:]}",
            hint="was the bundle made for this platform? (bundle create --platform)",
        )
    progress(f"wheels: installed in {time.monotonic() - started:.0f} s")


def _load_image(settings: Settings, manifest: Manifest, staging: Path, progress: Progress) -> bool:
    """``docker load`` the image; True when this command added the tag (for the rollback)."""
    import docker.errors

    from promptkiln.image.status import VERSION_LABEL
    from promptkiln.sandbox.docker import connect

    (member,) = manifest.of_kind("image")
    client = connect(settings.docker_host, timeout=900)
    api: Any = client.api
    had = True
    try:
        api.inspect_image(manifest.image_tag)
    except docker.errors.ImageNotFound:
        had = False
    started = time.monotonic()
    progress(f"image: docker load {manifest.image_tag} ({member.size / 1e6:,.0f} MB)")
    try:
        with (staging / member.name).open("rb") as fh:
            for _ in api.load_image(fh):
                pass
        info = api.inspect_image(manifest.image_tag)
    except docker.errors.DockerException as exc:
        raise ImageError(
            f"docker load of {member.name} failed: {exc}",
            image=manifest.image_tag,
            hint="check `docker info` and free disk space for the engine",
        ) from exc
    version = ((info.get("Config") or {}).get("Labels") or {}).get(VERSION_LABEL)
    if version != manifest.image_version:
        raise ImageError(
            f"the loaded {manifest.image_tag} has version {version}, the manifest says "
            f"{manifest.image_version}",
            image=manifest.image_tag,
        )
    progress(f"image: loaded {manifest.image_tag} in {time.monotonic() - started:.0f} s")
    return not had


def _place_model(settings: Settings, manifest: Manifest, staging: Path,
                 progress: Progress) -> Path | None:  # fmt: skip
    from promptkiln.llm import local

    members = manifest.of_kind("model")
    if not members:
        return None
    (member,) = members
    dest = local.cached_model_path(settings.cache)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not (dest.is_file() and dest.stat().st_size == member.size):
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
        os.close(fd)
        try:
            shutil.move(str(staging / member.name), tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    progress(f"model: {dest}")
    return local.ensure_model(None, cache_dir=settings.cache, progress=progress)


def _doctor(venv: Path) -> tuple[bool, str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMPTKILN_LOCAL_MODEL"}
    done = subprocess.run([str(venv / "bin" / "promptkiln"), "doctor"], capture_output=True,
                          text=True, check=False, env=env)  # fmt: skip
    return done.returncode == 0, done.stdout + done.stderr


def _engine_ready(settings: Settings, manifest: Manifest) -> None:
    from promptkiln.sandbox.docker import connect

    try:
        connect(settings.docker_host, timeout=10).ping()
    except Exception as exc:
        hint = "start the Docker engine, then run this again"
        if manifest.of_kind("engine"):
            hint = ("install the engine this bundle carries: tar -xzf BUNDLE engine/ && "
                    "apt-get install --no-download ./engine/*.deb, start dockerd, then run "
                    "this again")  # fmt: skip
        raise EngineError(f"the Docker engine does not answer: {exc}", hint=hint) from exc


def install(bundle: Path, venv: Path, settings: Settings, progress: Progress) -> Installed:
    """Install ``bundle`` into a new venv at ``venv``; see the module docstring for the order."""
    started = time.monotonic()
    venv = venv.expanduser().absolute()
    _check_venv(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".promptkiln-bundle-", dir=venv.parent))
    made_venv = False
    loaded: str | None = None
    try:
        progress(f"checking every member of {bundle} while unpacking it")
        manifest = scan(bundle, staging / "m", progress)
        progress(f"all {len(manifest.members)} members match the manifest")
        _check_python(manifest)
        _engine_ready(settings, manifest)
        made_venv = True
        _make_venv(venv, manifest, staging / "m" / "wheels", progress)
        if _load_image(settings, manifest, staging / "m", progress):
            loaded = manifest.image_tag
        model = _place_model(settings, manifest, staging / "m", progress)
    except BaseException:
        if made_venv:
            shutil.rmtree(venv, ignore_errors=True)
        if loaded is not None:
            with contextlib.suppress(Exception):
                from promptkiln.sandbox.docker import connect

                connect(settings.docker_host).api.remove_image(loaded)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    ok, output = _doctor(venv)
    return Installed(venv, manifest, manifest.image_tag, model, ok, output,
                     time.monotonic() - started)  # fmt: skip
