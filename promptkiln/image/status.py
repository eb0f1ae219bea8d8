"""Is the sandbox image current? Its tag, the version label an image built from the current
``images/`` files carries, and what the engine has under a tag. Never builds anything."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.errors import EngineError, ImageError

if TYPE_CHECKING:
    import docker

DEFAULT_TAG = "promptkiln-sandbox:latest"


VERSION_LABEL = "promptkiln.image.version"


BASE_LABEL = "promptkiln.base.version"


#: Files of ``images/`` that go into the build context; their bytes make the image version.
CONTEXT_FILES = (
    "Dockerfile",
    "packages.txt",
    "requirements.txt",
    "build-requirements.txt",
    "promptkiln_seed.py",
    "promptkiln-seed.pth",
    "promptkiln_warm.py",
)


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


def digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def expected_version(directory: Path | None = None) -> str:
    """The version label an image built from the current ``images/`` files carries."""
    directory = directory or images_dir()
    return digest(directory / name for name in CONTEXT_FILES)


def image_status(client: docker.DockerClient, tag: str = DEFAULT_TAG) -> ImageStatus:
    """Inspect ``tag`` in the engine ``client`` talks to. Never builds anything."""
    import docker.errors

    want = expected_version()
    try:
        info = has_image(client, tag)
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
        version=image_labels(info).get(VERSION_LABEL),
        image_id=info.get("Id"),
        size=info.get("Size"),
        created=info.get("Created"),
    )


def has_image(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    """The engine's inspect data for ``name``, or ``None`` when there is no such image."""
    import docker.errors

    api: Any = client.api
    try:
        info: dict[str, Any] = api.inspect_image(name)
    except docker.errors.ImageNotFound:
        return None
    return info


def image_labels(info: dict[str, Any]) -> dict[str, str]:
    return dict((info.get("Config") or {}).get("Labels") or {})
