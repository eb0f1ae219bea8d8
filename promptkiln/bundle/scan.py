"""Reading a bundle: :func:`scan` checks every member against the manifest in one streaming pass
(writing each under ``dest`` when given); :func:`read_manifest` reads only the manifest.

A bad bundle raises :class:`~promptkiln.errors.BundleError` naming the first bad member; a full
staging disk raises :class:`~promptkiln.errors.DestinationError` (never called "corrupt").
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from promptkiln.bundle.archive import (
    BLOCK,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    Manifest,
    Member,
    Progress,
    announce,
    quiet,
)
from promptkiln.errors import BundleError, DestinationError

# -- reading -----------------------------------------------------------------------------------

_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def _corrupt(name: str, exc: BaseException) -> BundleError:
    where = f"member {name}" if name != MANIFEST_NAME else MANIFEST_NAME
    return BundleError(
        f"the bundle is truncated or corrupt inside {where} ({type(exc).__name__}: {exc})",
        member=name,
        hint="copy the bundle again and compare its sha256 with the source's",
    )


@contextlib.contextmanager
def _open(path: Path) -> Iterator[tarfile.TarFile]:
    """The bundle as a tar stream. Gzip is read with :mod:`gzip`, which (unlike tarfile's own
    stream reader) reads every member of a multi-member file."""
    try:
        raw = path.open("rb")
    except FileNotFoundError as exc:
        raise BundleError(f"bundle {path} does not exist", hint="check the path") from exc
    with raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        source: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            tar = tarfile.open(fileobj=source, mode="r|")  # noqa: SIM115 - closed below
        except _READ_ERRORS as exc:
            raise BundleError(
                f"{path} is not a readable bundle ({exc})",
                hint="copy the bundle again; it is a .tar.gz made by `promptkiln bundle create`",
            ) from exc
        with source, tar:
            yield tar


def _read_manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        info = tar.next()
        if info is None or info.name != MANIFEST_NAME or not info.isreg():
            raise BundleError(
                f"the bundle does not start with {MANIFEST_NAME}",
                member=MANIFEST_NAME,
                hint="it is not a promptkiln bundle, or it was repacked; copy the original",
            )
        if info.size > MAX_MANIFEST_BYTES:
            raise BundleError(f"{MANIFEST_NAME} is too large", member=MANIFEST_NAME)
        fh = tar.extractfile(info)
        assert fh is not None
        raw = fh.read()
    except _READ_ERRORS as exc:
        raise _corrupt(MANIFEST_NAME, exc) from exc
    return Manifest.from_json(raw)


def scan(path: Path, dest: Path | None = None, progress: Progress = quiet) -> Manifest:
    """Check every member of the bundle at ``path`` against its manifest, in one streaming pass.

    With ``dest`` (an empty directory), each member is also written to ``dest/<name>``; the
    caller deletes ``dest`` if this raises. Raises :class:`~promptkiln.errors.BundleError`
    naming the first bad member.
    """
    with _open(path) as tar:
        manifest = _read_manifest(tar)
        expected = {m.name: m for m in manifest.members}
        seen: set[str] = set()
        current = MANIFEST_NAME
        try:
            while (info := tar.next()) is not None:
                current = info.name
                member = expected.get(info.name)
                if member is None or info.name in seen or not info.isreg():
                    why = "a second copy of" if info.name in seen else "an unlisted or non-file"
                    raise BundleError(
                        f"the bundle holds {why} member {info.name[:200]!r}",
                        member=info.name,
                        hint="the bundle was changed after it was made; use the original",
                    )
                if info.size != member.size:
                    raise BundleError(
                        f"member {member.name} is {info.size:,} bytes, the manifest says "
                        f"{member.size:,}",
                        member=member.name,
                        hint="the bundle was changed after it was made; use the original",
                    )
                _check_one(tar, info, member, dest)
                seen.add(member.name)
                announce(progress, "checked", member.name, member.size)
        except _READ_ERRORS as exc:
            raise _corrupt(current, exc) from exc
    missing = [m.name for m in manifest.members if m.name not in seen]
    if missing:
        raise BundleError(
            f"member {missing[0]} is missing ({len(missing)} of {len(manifest.members)} "
            "members missing): the bundle is truncated",
            member=missing[0],
            hint="copy the bundle again and compare its sha256 with the source's",
        )
    return manifest


def _check_one(
    tar: tarfile.TarFile, info: tarfile.TarInfo, member: Member, dest: Path | None
) -> None:
    src = tar.extractfile(info)
    assert src is not None
    digest = hashlib.sha256()
    out: IO[bytes] | None = None
    try:
        if dest is not None:
            target = dest / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            out = target.open("xb")
        for block in iter(lambda: src.read(BLOCK), b""):
            digest.update(block)
            if out is not None:
                _write(out, block, dest)
    finally:
        if out is not None:
            out.close()
    actual = digest.hexdigest()
    if actual != member.sha256:
        raise BundleError(
            f"member {member.name} has sha256 {actual}, the manifest says {member.sha256}",
            member=member.name,
            hint="the bundle was changed or damaged after it was made; copy the original again",
        )


def _write(out: IO[bytes], block: bytes, dest: Path | None) -> None:
    try:
        out.write(block)
    except OSError as exc:  # the staging disk, not the bundle: never called "corrupt"
        raise DestinationError(
            f"cannot unpack the bundle into {dest}: {exc.strerror or exc}",
            path=str(dest),
            hint="free some space there (the bundle unpacks to the sizes its manifest lists)",
        ) from exc


def read_manifest(path: Path) -> Manifest:
    """Only the manifest (the first member); checks nothing else."""
    with _open(path) as tar:
        return _read_manifest(tar)


__all__ = ["read_manifest", "scan"]
