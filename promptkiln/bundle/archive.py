"""The bundle file: a gzip-compressed tar whose first member is ``MANIFEST.json``.

The manifest lists every other member with its kind, version, size in **bytes** and sha256.
:func:`write_bundle` hashes the parts, writes the manifest first and the parts after it into a
temp file beside the destination, and renames it into place. :func:`~promptkiln.bundle.scan.scan` reads a
bundle once, as a stream, checking each member against the manifest as it goes (and, with ``dest``, writing it
under ``dest``); it raises :class:`~promptkiln.errors.BundleError` naming the first bad member: a
changed byte, a wrong size, a member the manifest does not list, one it lists that is missing
(the archive was cut short), or a read error inside one (truncated or corrupt compression).
Member names are plain relative paths (checked before anything is written), so a hostile
manifest cannot write outside ``dest``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from promptkiln.errors import BundleError, DestinationError

FORMAT = "promptkiln-bundle/1"
MANIFEST_NAME = "MANIFEST.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
BLOCK = 4 * 1024 * 1024
#: A member name: relative, forward slashes, no empty, "." or ".." parts, plain characters.
_NAME = re.compile(r"(?:[A-Za-z0-9_+][A-Za-z0-9._+@-]*/)*[A-Za-z0-9_+][A-Za-z0-9._+@-]*")

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Member:
    """One file of the bundle as the manifest records it."""

    name: str  #: path inside the archive, e.g. ``wheels/typer-0.12.0-py3-none-any.whl``
    kind: str  #: ``wheel``, ``image``, ``model``, ``engine``, ``gvisor`` or ``doc``
    version: str
    size: int  #: bytes
    sha256: str


@dataclass(frozen=True)
class Part:
    """A file to put into a bundle: where it is now, and what the manifest will call it."""

    name: str
    kind: str
    version: str
    path: Path


@dataclass(frozen=True)
class Manifest:
    promptkiln_version: str
    python_version: str  #: ``3.11``
    platform: str  #: a pip platform tag, e.g. ``manylinux_2_17_x86_64``
    extras: tuple[str, ...]
    image_tag: str
    image_version: str
    members: tuple[Member, ...]
    created: str = ""
    format: str = FORMAT
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["extras"] = list(self.extras)
        return json.dumps(data, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            members = tuple(Member(**m) for m in data.pop("members"))
            data["extras"] = tuple(str(e) for e in data["extras"])
            manifest = cls(members=members, **data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise BundleError(
                f"{MANIFEST_NAME} is not a valid bundle manifest ({exc})",
                member=MANIFEST_NAME,
                hint="the bundle is corrupt or not a promptkiln bundle; copy it again",
            ) from exc
        for m in manifest.members:
            _check_member(m)
        return manifest

    @property
    def total_bytes(self) -> int:
        return sum(m.size for m in self.members)

    def of_kind(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind]


def _check_member(m: Member) -> None:
    ok = (
        isinstance(m.name, str)
        and _NAME.fullmatch(m.name) is not None
        and m.name != MANIFEST_NAME
        and not any(part in (".", "..") for part in m.name.split("/"))
        and isinstance(m.size, int)
        and m.size >= 0
        and isinstance(m.sha256, str)
        and re.fullmatch(r"[0-9a-f]{64}", m.sha256) is not None
    )
    if not ok:
        raise BundleError(
            f"{MANIFEST_NAME} lists an invalid member {str(m.name)[:120]!r}",
            member=MANIFEST_NAME,
            hint="the bundle is corrupt or not a promptkiln bundle; copy it again",
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


#: Members at least this large get a progress line of their own; smaller ones (wheels) do not.
_BIG = 16 * 1024 * 1024


def announce(progress: Progress, verb: str, name: str, size: int) -> None:
    if size >= _BIG:
        progress(f"{verb} {name} ({size / 1e6:,.1f} MB)")


def describe_parts(parts: Iterable[Part], progress: Progress = quiet) -> tuple[Member, ...]:
    """Hash every part: the manifest's member list."""
    members = []
    for part in parts:
        announce(progress, "hashing", part.name, part.path.stat().st_size)
        members.append(
            Member(part.name, part.kind, part.version, part.path.stat().st_size,
                   sha256_file(part.path))
        )  # fmt: skip
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise ValueError(f"two parts share a name: {sorted(names)}")
    for m in members:
        _check_member(m)
    return tuple(members)


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, int(time.time())
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


#: Kinds that are compressed already (zip, quantised weights, .deb): stored, not deflated, which
#: makes writing them about as fast as copying. Everything else is deflated at level 1.
STORED_KINDS = frozenset({"wheel", "model", "engine", "gvisor"})


class _GzipMembers:
    """A write-only file that is one gzip member per compression level in a row: concatenated
    gzip members are one valid gzip file (RFC 1952), read by Python's gzip and by ``tar -xzf``."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._level = 1
        self._gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0)
        self._written = 0

    def level(self, level: int) -> None:
        if level != self._level:
            self._gz.close()
            self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=level, mtime=0)
            self._level = level

    def write(self, data: bytes) -> int:
        self._written += len(data)
        return self._gz.write(data)

    def tell(self) -> int:
        return self._written

    def close(self) -> None:
        self._gz.close()


def write_bundle(
    manifest: Manifest, parts: Iterable[Part], dest: Path, progress: Progress = quiet
) -> int:
    """Write the bundle to ``dest`` (temp file + rename; never half a file). Returns its size."""
    by_name = {p.name: p for p in parts}
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    started = time.monotonic()
    try:
        with os.fdopen(fd, "wb") as raw:
            gz = _GzipMembers(raw)
            with tarfile.open(fileobj=gz, mode="w") as tar:  # type: ignore[call-overload]
                body = manifest.to_json()
                tar.addfile(_tarinfo(MANIFEST_NAME, len(body)), _bytes_io(body))
                for m in manifest.members:
                    part = by_name[m.name]
                    announce(progress, "writing", m.name, m.size)
                    gz.level(0 if m.kind in STORED_KINDS else 1)
                    with part.path.open("rb") as fh:
                        tar.addfile(_tarinfo(m.name, m.size), fh)
            gz.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DestinationError(
            f"cannot write the bundle {dest}: {exc.strerror or exc}",
            path=str(dest),
            hint="check the directory exists, is writable and has room",
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    size = dest.stat().st_size
    progress(f"wrote {dest} ({size / 1e6:,.1f} MB) in {time.monotonic() - started:.0f} s")
    return size


def _bytes_io(data: bytes) -> IO[bytes]:
    import io

    return io.BytesIO(data)


__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "Manifest",
    "Member",
    "Part",
    "describe_parts",
    "sha256_file",
    "write_bundle",
]
