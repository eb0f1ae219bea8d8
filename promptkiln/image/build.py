"""Build and inspect the sandbox image (``images/Dockerfile``).

Two paths, one Dockerfile:

- **online** — a container registry is reachable: ``FROM debian:bookworm-slim`` and apt installs
  the system packages in ``images/packages.txt``.
- **offline** (air-gapped: only the Debian and PyPI mirrors are reachable) — ``debootstrap`` builds
  a Debian 12 root filesystem that already holds those packages, cached under the promptkiln cache
  directory, and ``docker import`` turns it into ``promptkiln-base:bookworm``; the Dockerfile's apt
  step then finds nothing to do, and the build's containers run with no network at all.
  ``PROMPTKILN_DEBIAN_MIRROR`` and ``PROMPTKILN_DEBIAN_SECURITY_MIRROR`` (empty: skip security
  updates) point it at a local mirror. To refresh the base, delete ``<cache>/image/``.

Either way the Python stack comes from a wheelhouse that the host downloads (``pip download``
of the exact pins in ``images/requirements.txt``, manylinux cp311 x86_64), cached the same way,
and the image is labelled ``promptkiln.image.version=<hash of images/>`` so a stale image is seen.

Usable without the CLI: ``python -m promptkiln.image [--offline|--online] [--force] [--status]``.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptkiln.config import default_cache
from promptkiln.errors import EngineError, ImageError, PromptkilnError

if TYPE_CHECKING:
    import docker

DEFAULT_TAG = "promptkiln-sandbox:latest"
ONLINE_BASE = "debian:bookworm-slim"
OFFLINE_BASE = "promptkiln-base:bookworm"
VERSION_LABEL = "promptkiln.image.version"
BASE_LABEL = "promptkiln.base.version"
SUITE = "bookworm"
#: Seconds the engine has to start answering a pull before the registry counts as unreachable.
PULL_FIRST_ANSWER_S = 30.0
#: Files of ``images/`` that go into the build context; their bytes make the image version.
CONTEXT_FILES = (
    "Dockerfile",
    "packages.txt",
    "requirements.txt",
    "build-requirements.txt",
    "promptkiln_seed.py",
    "promptkiln_chartfacts.py",
    "promptkiln-seed.pth",
    "promptkiln_warm.py",
)
PIP_PLATFORM_ARGS = (
    "--only-binary=:all:",
    "--implementation=cp",
    "--python-version=3.11",
    "--abi=cp311",
    "--abi=abi3",
    "--abi=none",
    "--platform=manylinux2014_x86_64",
    "--platform=manylinux_2_17_x86_64",
    "--platform=manylinux_2_28_x86_64",
    "--platform=any",
)
_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
_DEBOOTSTRAP_HINT = (
    "install it (`apt-get install debootstrap`, as root), or build on a machine that can reach "
    "a container registry"
)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ImageStatus:
    """What the engine has under ``tag``, compared with the current ``images/`` files."""

    tag: str
    exists: bool
    expected_version: str
    version: str | None = None
    image_id: str | None = None
    size: int | None = None
    """Bytes, as the engine reports it (uncompressed layers)."""
    created: str | None = None

    @property
    def fresh(self) -> bool:
        return self.exists and self.version == self.expected_version

    @property
    def stale(self) -> bool:
        return self.exists and self.version != self.expected_version

    @property
    def problem(self) -> str | None:
        """``None`` when the image can be used as is, else what is wrong and what to do."""
        if not self.exists:
            return f"image {self.tag} is missing: run `promptkiln image build`"
        if self.stale:
            return (
                f"image {self.tag} is stale (built from {self.version}, images/ is now "
                f"{self.expected_version}): run `promptkiln image build`"
            )
        return None

    def __str__(self) -> str:
        if not self.exists:
            return f"{self.tag}: missing"
        size = f"{(self.size or 0) / 1e6:.0f} MB"
        state = "current" if self.fresh else f"stale (built from {self.version})"
        return f"{self.tag}: {state}, {size}, id {(self.image_id or '')[7:19]}"


@dataclass(frozen=True)
class ImageBuildResult:
    tag: str
    image_id: str
    version: str
    path: Literal["online", "offline"] | None
    """Which path built it; ``None`` when the image was already current and nothing ran."""
    base: str | None
    size: int
    seconds: float
    built: bool

    @property
    def summary(self) -> str:
        size = f"{self.size / 1e6:.0f} MB"
        if not self.built:
            return f"{self.tag} is already current ({size}, version {self.version})"
        return (
            f"built {self.tag} via the {self.path} path from {self.base} in "
            f"{self.seconds:.0f} s ({size}, version {self.version})"
        )

    def __str__(self) -> str:
        return self.summary


def images_dir() -> Path:
    """The directory holding the Dockerfile: ``$PROMPTKILN_IMAGES_DIR``, the package data
    (``promptkiln/images``) of an installed package, or ``images/`` of a source checkout."""
    here = Path(__file__).resolve().parents[1]  # the promptkiln package
    candidates = [here / "images", here.parent / "images"]
    if os.environ.get("PROMPTKILN_IMAGES_DIR"):
        candidates.insert(0, Path(os.environ["PROMPTKILN_IMAGES_DIR"]))
    for candidate in candidates:
        if (candidate / "Dockerfile").is_file():
            return candidate
    raise ImageError(
        "the sandbox Dockerfile is not where promptkiln expects it",
        hint="reinstall promptkiln, or set PROMPTKILN_IMAGES_DIR to a checkout's images/ folder",
    )


def _digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def expected_version(directory: Path | None = None) -> str:
    """The version label an image built from the current ``images/`` files carries."""
    directory = directory or images_dir()
    return _digest(directory / name for name in CONTEXT_FILES)


def image_status(client: docker.DockerClient, tag: str = DEFAULT_TAG) -> ImageStatus:
    """Inspect ``tag`` in the engine ``client`` talks to. Never builds anything."""
    import docker.errors

    want = expected_version()
    try:
        info = _has_image(client, tag)
    except docker.errors.DockerException as exc:
        raise EngineError(
            f"could not inspect image {tag}: {exc}", hint="check `docker info`"
        ) from exc
    if info is None:
        return ImageStatus(tag=tag, exists=False, expected_version=want)
    return ImageStatus(
        tag=tag,
        exists=True,
        expected_version=want,
        version=_labels(info).get(VERSION_LABEL),
        image_id=info.get("Id"),
        size=info.get("Size"),
        created=info.get("Created"),
    )


def _packages(directory: Path) -> list[str]:
    lines = (directory / "packages.txt").read_text().splitlines()
    return [word for line in lines for word in line.split("#", 1)[0].split()]


def build_image(
    tag: str = DEFAULT_TAG,
    *,
    offline: bool | None = None,
    progress: Progress = _quiet,
    force: bool = False,
    client: docker.DockerClient | None = None,
    cache_dir: Path | None = None,
) -> ImageBuildResult:
    """Build the sandbox image as ``tag``; a no-op when it is already current (unless ``force``).

    ``offline=None`` picks the path: online when the base image is present or can be pulled,
    offline (debootstrap) otherwise; ``True``/``False`` force one. Every step is reported
    through ``progress`` as a line of text.
    """
    from promptkiln.sandbox.docker import connect

    client = client or connect(timeout=900)
    directory = images_dir()
    started = time.monotonic()
    status = image_status(client, tag)
    if status.fresh and not force:
        progress(f"{tag} is current (version {status.version}); nothing to build")
        return ImageBuildResult(
            tag, status.image_id or "", status.version or "", None, None, status.size or 0, 0, False
        )
    cache = (cache_dir or default_cache()) / "image"
    if offline is None:
        offline = not _can_use_online_base(client, progress)
    if offline:
        progress("offline path: Debian 12 base from debootstrap, no container registry needed")
        base = _ensure_offline_base(client, directory, cache, progress)
    else:
        progress(f"online path: FROM {ONLINE_BASE}")
        _pull(client, ONLINE_BASE, progress)
        base = ONLINE_BASE
    wheelhouse = _ensure_wheelhouse(directory, cache, progress)
    version = expected_version(directory)
    # Offline, every input is already local: the build's containers get no network at all.
    network = "none" if offline else None
    image_id = _docker_build(
        client, directory, wheelhouse, tag, base, version, cache, progress, network
    )
    info = _has_image(client, image_id) or {}
    seconds = time.monotonic() - started
    progress(f"built {tag} ({info.get('Size', 0) / 1e6:.0f} MB) in {seconds:.0f} s")
    return ImageBuildResult(
        tag,
        image_id,
        version,
        "offline" if offline else "online",
        base,
        int(info.get("Size", 0)),
        seconds,
        True,
    )


# -- choosing the path -------------------------------------------------------------------------


def _has_image(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    """The engine's inspect data for ``name``, or ``None`` when there is no such image."""
    import docker.errors

    api: Any = client.api
    try:
        info: dict[str, Any] = api.inspect_image(name)
    except docker.errors.ImageNotFound:
        return None
    return info


def _labels(info: dict[str, Any]) -> dict[str, str]:
    return dict((info.get("Config") or {}).get("Labels") or {})


def _can_use_online_base(client: docker.DockerClient, progress: Progress) -> bool:
    if _has_image(client, ONLINE_BASE):
        progress(f"{ONLINE_BASE} is already present")
        return True
    progress(f"checking whether {ONLINE_BASE} can be pulled")
    try:
        _pull(client, ONLINE_BASE, progress)
    except ImageError as exc:
        progress(f"no container registry: {exc.message}")
        return False
    return True


def _pull(client: docker.DockerClient, name: str, progress: Progress) -> None:
    """Pull ``name`` unless present. The engine must start answering within
    ``PULL_FIRST_ANSWER_S`` (a registry that is unreachable but not refused can otherwise hang
    for minutes); once layers flow, the pull may take as long as it needs."""
    if _has_image(client, name):
        return
    repo, _, tag = name.partition(":")
    events: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()

    def pump() -> None:
        try:
            for event in client.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
                events.put(event)
            events.put(None)
        except Exception as exc:  # handed to the caller's thread below
            events.put(exc)

    threading.Thread(target=pump, name="promptkiln-pull", daemon=True).start()
    wait: float | None = PULL_FIRST_ANSWER_S
    while True:
        try:
            event = events.get(timeout=wait)
        except queue.Empty:
            raise ImageError(
                f"could not pull {name}: no answer within {wait:g} s", image=name
            ) from None
        if event is None:
            return
        if isinstance(event, BaseException):
            raise ImageError(f"could not pull {name}: {event}", image=name) from event
        if "error" in event:
            raise ImageError(f"could not pull {name}: {event['error']}", image=name)
        if event.get("status") and not event.get("progressDetail"):
            progress(f"pull {name}: {event['status']}")
        wait = None


# -- the offline base --------------------------------------------------------------------------


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise ImageError(
            "no container registry is reachable and debootstrap is not installed",
            hint=_DEBOOTSTRAP_HINT,
        )
    if os.geteuid() != 0:
        raise ImageError(
            "the offline image build runs debootstrap, which needs root",
            hint="run it as root (`sudo promptkiln image build`), or build on a "
            "machine that can reach a container registry",
        )
    return found


def _ensure_offline_base(
    client: docker.DockerClient, directory: Path, cache: Path, progress: Progress
) -> str:
    packages = _packages(directory)
    mirror = os.environ.get("PROMPTKILN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    security = os.environ.get("PROMPTKILN_DEBIAN_SECURITY_MIRROR", _SECURITY_MIRROR)
    spec = f"{SUITE} minbase+updates {security} {' '.join(packages)}"
    key = hashlib.sha256(spec.encode()).hexdigest()[:16]
    info = _has_image(client, OFFLINE_BASE)
    if info and _labels(info).get(BASE_LABEL) == key:
        progress(f"{OFFLINE_BASE} is present and current")
        return OFFLINE_BASE
    tarball = cache / f"rootfs-{SUITE}-{key}.tar"
    if not tarball.is_file():
        _make_rootfs(tarball, packages, mirror, security, progress)
    progress(f"docker import {tarball.name} as {OFFLINE_BASE}")
    import docker.errors

    repo, _, tag = OFFLINE_BASE.partition(":")
    changes = [
        f"LABEL {BASE_LABEL}={key}",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'CMD ["/bin/bash"]',
    ]
    try:
        client.api.import_image_from_file(str(tarball), repository=repo, tag=tag, changes=changes)
    except docker.errors.DockerException as exc:
        raise ImageError(
            f"docker import of the base failed: {exc}",
            image=OFFLINE_BASE,
            hint=f"delete {tarball} and try again",
        ) from exc
    return OFFLINE_BASE


def _make_rootfs(
    tarball: Path, packages: list[str], mirror: str, security: str, progress: Progress
) -> None:
    """debootstrap, then apply bookworm-updates and bookworm-security (debootstrap installs the
    point release only), drop the package caches and host files, and pack it as a tarball."""
    debootstrap = _debootstrap()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    root = tarball.with_suffix(".tmp")
    shutil.rmtree(root, ignore_errors=True)
    command = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(packages)}",
        SUITE,
        str(root),
        mirror,
    ]
    progress(f"debootstrap {SUITE} from {mirror} (a minute or two, once)")
    _run(command, progress, what="debootstrap")
    sources = [f"deb {mirror} {SUITE} main", f"deb {mirror} {SUITE}-updates main"]
    if security:
        sources.append(f"deb {security} {SUITE}-security main")
    (root / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
    chroot = [shutil.which("chroot") or "/usr/sbin/chroot", str(root)]
    progress(f"applying {SUITE}-updates and {SUITE}-security")
    for step in (["update", "-q"], ["-y", "-q", "upgrade"], ["clean"]):
        _run(
            [*chroot, "apt-get", *step], progress, "apt-get", {"DEBIAN_FRONTEND": "noninteractive"}
        )
    # The engine provides these at run time; the host's must not ship in the image.
    for name in ("etc/resolv.conf", "etc/hostname"):
        (root / name).unlink(missing_ok=True)
    # Package caches are not part of the image; the lists come back with `apt-get update`.
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / sub).glob("*"):
            if entry.is_file():
                entry.unlink()
    partial = tarball.with_suffix(".tar.partial")
    progress(f"packing the root filesystem into {tarball}")
    _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], progress, "tar")
    partial.rename(tarball)
    shutil.rmtree(root, ignore_errors=True)
    _prune(tarball)


def _run(
    command: list[str], progress: Progress, what: str, env: dict[str, str] | None = None
) -> None:
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            command,
            env={**os.environ, **env} if env else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ImageError(f"could not start {what}: {exc}", hint=_DEBOOTSTRAP_HINT) from exc
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-19:], line]
            if line:
                progress(f"{what}: {line}")
    if proc.returncode != 0:
        raise ImageError(
            f"{what} failed with exit status {proc.returncode}:\n" + "\n".join(tail),
            hint="check that the Debian mirror is reachable (set PROMPTKILN_DEBIAN_MIRROR to "
            "use another one) and that there is free disk space",
        )


# -- the wheelhouse and the build --------------------------------------------------------------


def _ensure_wheelhouse(directory: Path, cache: Path, progress: Progress) -> Path:
    lists = [directory / "requirements.txt", directory / "build-requirements.txt"]
    wheelhouse = cache / f"wheelhouse-cp311-{_digest(lists)}"
    if (wheelhouse / ".complete").is_file():
        progress(f"wheelhouse {wheelhouse.name} is cached")
        return wheelhouse
    partial = wheelhouse.with_name(wheelhouse.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    progress("pip download: the pinned wheels for the image (manylinux, cp311, x86_64)")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar=off",
        *PIP_PLATFORM_ARGS,
        "--dest",
        str(partial),
    ]
    for requirements in lists:
        command += ["-r", str(requirements)]
    _run(command, progress, "pip download")
    (partial / ".complete").write_text("")
    shutil.rmtree(wheelhouse, ignore_errors=True)
    partial.rename(wheelhouse)
    _prune(wheelhouse)
    return wheelhouse


def _prune(keep: Path) -> None:
    """Remove the cache's older versions of ``keep`` (same name up to the last ``-``)."""
    prefix = keep.name.rsplit("-", 1)[0] + "-"
    for old in keep.parent.glob(prefix + "*"):
        if old != keep and not old.name.endswith((".partial", ".tmp")):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def _context_tar(directory: Path, wheelhouse: Path, dest: Path) -> None:
    """The build context: the images/ files plus ``wheelhouse/``, with fixed metadata so the
    engine's layer cache hits across checkouts."""

    def add(tar: tarfile.TarFile, path: Path, name: str) -> None:
        info = tar.gettarinfo(str(path), arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o644
        info.mtime = 1_700_000_000
        with path.open("rb") as fh:
            tar.addfile(info, fh)

    with tarfile.open(dest, "w") as tar:
        for name in CONTEXT_FILES:
            add(tar, directory / name, name)
        for wheel in sorted(wheelhouse.glob("*.whl")):
            add(tar, wheel, f"wheelhouse/{wheel.name}")


def _build_events(events: Iterator[dict[str, Any]], progress: Progress) -> str:
    tail: list[str] = []
    image_id = ""
    for event in events:
        if "error" in event:
            raise ImageError(
                "the image build failed: " + str(event["error"]).strip() + "\n" + "\n".join(tail),
                hint="read the build output above; `promptkiln image build --force` retries",
            )
        if "aux" in event and isinstance(event["aux"], dict) and "ID" in event["aux"]:
            image_id = str(event["aux"]["ID"])
        for line in str(event.get("stream") or event.get("status") or "").splitlines():
            if line.strip():
                tail = [*tail[-29:], line]
                progress(f"build: {line.rstrip()}")
                if line.startswith("Successfully built "):
                    image_id = image_id or line.split()[-1]
    if not image_id:
        raise ImageError("the image build ended without an image:\n" + "\n".join(tail))
    return image_id


def _docker_build(
    client: docker.DockerClient,
    directory: Path,
    wheelhouse: Path,
    tag: str,
    base: str,
    version: str,
    cache: Path,
    progress: Progress,
    network: str | None,
) -> str:
    import docker.errors

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix="context-") as tmp:
        context = Path(tmp) / "context.tar"
        _context_tar(directory, wheelhouse, context)
        progress(f"docker build {tag} FROM {base} (context {context.stat().st_size / 1e6:.0f} MB)")
        try:
            with context.open("rb") as fh:
                events = client.api.build(
                    fileobj=fh,
                    custom_context=True,
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    buildargs={"BASE": base, "IMAGE_VERSION": version},
                    network_mode=network,
                    decode=True,
                )
                return _build_events(events, progress)
        except docker.errors.DockerException as exc:
            raise ImageError(f"the image build failed: {exc}", image=tag) from exc


def main(argv: list[str] | None = None) -> int:
    """``python -m promptkiln.image``: build (default) or show the status of the image."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m promptkiln.image", description=__doc__)
    parser.add_argument("--tag", default=os.environ.get("PROMPTKILN_IMAGE", DEFAULT_TAG))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--offline", dest="offline", action="store_true", default=None)
    mode.add_argument("--online", dest="offline", action="store_false")
    parser.add_argument("--force", action="store_true", help="rebuild even when current")
    parser.add_argument("--status", action="store_true", help="only show the image's status")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def show(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", file=sys.stderr, flush=True)

    try:
        if args.status:
            from promptkiln.sandbox.docker import connect

            print(image_status(connect(), args.tag))
            return 0
        result = build_image(args.tag, offline=args.offline, progress=show, force=args.force)
    except PromptkilnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(result.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
