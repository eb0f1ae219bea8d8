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

import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptkiln.config import default_cache
from promptkiln.errors import ImageError, PromptkilnError
from promptkiln.image.offline import ensure_offline_base
from promptkiln.image.pull import ONLINE_BASE, can_use_online_base, pull
from promptkiln.image.status import (
    CONTEXT_FILES,
    DEFAULT_TAG,
    expected_version,
    has_image,
    image_status,
    images_dir,
)
from promptkiln.image.steps import Progress
from promptkiln.image.wheelhouse import ensure_wheelhouse

if TYPE_CHECKING:
    import docker


def _quiet(_: str) -> None:
    return None


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
        offline = not can_use_online_base(client, progress)
    if offline:
        progress("offline path: Debian 12 base from debootstrap, no container registry needed")
        base = ensure_offline_base(client, directory, cache, progress)
    else:
        progress(f"online path: FROM {ONLINE_BASE}")
        pull(client, ONLINE_BASE, progress)
        base = ONLINE_BASE
    wheelhouse = ensure_wheelhouse(directory, cache, progress)
    version = expected_version(directory)
    # Offline, every input is already local: the build's containers get no network at all.
    network = "none" if offline else None
    image_id = _docker_build(
        client, directory, wheelhouse, tag, base, version, cache, progress, network
    )
    info = has_image(client, image_id) or {}
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
