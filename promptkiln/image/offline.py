"""The offline path's base image: a Debian 12 root filesystem from ``debootstrap`` that already
holds ``images/packages.txt``, updated, cached as a tarball and ``docker import``-ed as
``promptkiln-base:bookworm``. ``PROMPTKILN_DEBIAN_MIRROR`` and
``PROMPTKILN_DEBIAN_SECURITY_MIRROR`` (empty: skip security updates) point it at a local mirror."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln.errors import ImageError
from promptkiln.image.status import BASE_LABEL, has_image, image_labels
from promptkiln.image.steps import DEBOOTSTRAP_HINT, Progress, prune_older, run_step

if TYPE_CHECKING:
    import docker

OFFLINE_BASE = "promptkiln-base:bookworm"


SUITE = "bookworm"


_SECURITY_MIRROR = "http://deb.debian.org/debian-security"


def _packages(directory: Path) -> list[str]:
    lines = (directory / "packages.txt").read_text().splitlines()
    return [word for line in lines for word in line.split("#", 1)[0].split()]


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise ImageError(
            "no container registry is reachable and debootstrap is not installed",
            hint=DEBOOTSTRAP_HINT,
        )
    if os.geteuid() != 0:
        raise ImageError(
            "the offline image build runs debootstrap, which needs root",
            hint="run it as root (`sudo promptkiln image build`), or build on a "
            "machine that can reach a container registry",
        )
    return found


def ensure_offline_base(
    client: docker.DockerClient, directory: Path, cache: Path, progress: Progress
) -> str:
    packages = _packages(directory)
    mirror = os.environ.get("PROMPTKILN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    security = os.environ.get("PROMPTKILN_DEBIAN_SECURITY_MIRROR", _SECURITY_MIRROR)
    spec = f"{SUITE} minbase+updates {security} {' '.join(packages)}"
    key = hashlib.sha256(spec.encode()).hexdigest()[:16]
    info = has_image(client, OFFLINE_BASE)
    if info and image_labels(info).get(BASE_LABEL) == key:
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
    run_step(command, progress, what="debootstrap")
    sources = [f"deb {mirror} {SUITE} main", f"deb {mirror} {SUITE}-updates main"]
    if security:
        sources.append(f"deb {security} {SUITE}-security main")
    (root / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
    chroot = [shutil.which("chroot") or "/usr/sbin/chroot", str(root)]
    progress(f"applying {SUITE}-updates and {SUITE}-security")
    for step in (["update", "-q"], ["-y", "-q", "upgrade"], ["clean"]):
        run_step(
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
    run_step(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], progress, "tar")
    partial.rename(tarball)
    shutil.rmtree(root, ignore_errors=True)
    prune_older(tarball)
