"""Safe output collection: what may leave the sandbox, and how it reaches the user's disk.

Every backend hands over raw :class:`~promptkiln.sandbox.base.OutputEntry` objects; nothing in
them is trusted. :func:`collect` delivers regular files only, under sanitised names, within the
count and byte caps, with plain ``0644`` modes, all-or-nothing into the destination.

Policy (each rule gives the rejected entry a reason; directories are implicit, never rejected):

* **Kinds.** Only regular files. Symlinks, hard links (the archive's second name for an inode;
  the first is an ordinary file and is copied as content), FIFOs, sockets, devices: rejected.
* **Names** (:func:`sanitize_name`). Relative POSIX paths of at most :data:`MAX_DEPTH`
  components, :data:`MAX_COMPONENT_BYTES` bytes each and :data:`MAX_NAME_BYTES` in all, NFC
  normalised. Each component is made of Unicode letters, marks and digits plus ``space . _ - +
  , ( ) @``; it may not start with ``.`` (hidden files: ``.git/config``, ``.envrc``,
  ``.vscode/`` run on open), ``-`` (read as an option by ``rm *``) or a space, nor end with a dot
  or space (Windows strips them), nor be a Windows device name (``CON``, ``nul.txt``, ``COM1``)
  — names stay portable, because the folder may be opened on macOS or Windows. Shell, URL and
  markup metacharacters (``$ ` ; & | < > " ' % \\ :``), control, format (bidi, zero-width) and
  odd whitespace characters are refused, as is any name whose NFKC form differs in a way that
  matters (``／``, ``．．``).
* **Types.** The last extension must be in ``extensions`` (:data:`DELIVERABLE_EXTENSIONS` by
  default: documents, images, data; never code, macros, launchers or config files such as
  ``.py``, ``.xlsm``, ``.desktop``, ``.lnk``, ``.inf``, ``.ini``, extensionless ``Makefile``).
  A caller that asked for another format passes a wider set.
* **Caps.** ``limits.output_files`` files, ``limits.output_file_bytes`` per file,
  ``limits.output_bytes`` in all: a file over a cap is rejected, never truncated.
* **Collisions.** Names equal after NFC and case folding would overwrite each other on macOS or
  Windows. One is kept: the spelling that needed no normalisation, then the all-lower-case one,
  then the first in the archive; the others are rejected. A file whose name is also another
  file's directory is rejected.
* **Destination** (:mod:`promptkiln.sandbox.destination`). Staged on the destination's file
  system, then linked into place without ever following a link; an existing file is kept and
  the new one gets a suffix, ``chart.png`` → ``chart (1).png``, unless ``overwrite``. On any
  failure everything this call placed is removed again and a
  :class:`~promptkiln.errors.DestinationError` says what to do (``KeyboardInterrupt`` and
  :class:`~promptkiln.errors.OutputError` from the entries are re-raised after the rollback).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from promptkiln.errors import OutputError
from promptkiln.sandbox.base import Artifact, EntryKind, Limits, OutputEntry, Rejection
from promptkiln.sandbox.destination import Destination, Staged
from promptkiln.sandbox.entries import ChunkedEntry, RejectedEntry
from promptkiln.sandbox.names import (
    MAX_COMPONENT_BYTES,
    MAX_DEPTH,
    MAX_NAME_BYTES,
    UnsafeName,
    extension_of,
    printable,
    sanitize_name,
)

__all__ = [
    "DELIVERABLE_EXTENSIONS",
    "MAX_COMPONENT_BYTES",
    "MAX_DEPTH",
    "MAX_NAME_BYTES",
    "CollectResult",
    "UnsafeName",
    "collect",
    "printable",
    "sanitize_name",
]

#: Rejections listed one by one; the rest are summarised in one more entry.
MAX_LISTED_REJECTIONS = 100

_DOCUMENTS = "pdf docx xlsx pptx odt ods odp rtf epub txt md markdown rst tex bib html htm xml"
_DATA = "csv tsv json jsonl ndjson geojson yaml yml toml ics vcf kml gpx log"
_BINARY_DATA = "parquet feather arrow sqlite sqlite3 npy nc h5 hdf5"
_MEDIA = (
    "png jpg jpeg gif webp svg bmp tif tiff avif heic ico eps mp3 wav ogg flac m4a mp4 webm mov"
)
#: File types delivered by default: documents, images, media and data. Never code, macros,
#: launchers or config (``.py .sh .exe .xlsm .docm .lnk .desktop .inf .ini .url``...).
DELIVERABLE_EXTENSIONS: frozenset[str] = frozenset(
    " ".join((_DOCUMENTS, _DATA, _BINARY_DATA, _MEDIA)).split(" ")
)


@dataclass(frozen=True)
class CollectResult:
    artifacts: list[Artifact] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


_KIND_REASONS = {
    EntryKind.SYMLINK: "symbolic link (links are never delivered)",
    EntryKind.HARDLINK: "hard link to another entry (links are never delivered)",
    EntryKind.FIFO: "named pipe (FIFO), not a regular file",
    EntryKind.CHARDEV: "character device, not a regular file",
    EntryKind.BLOCKDEV: "block device, not a regular file",
    EntryKind.SOCKET: "socket, not a regular file",
    EntryKind.OTHER: "not a regular file",
}


def _size(n: int) -> str:
    """A byte count for people: ``512 bytes``, ``3.5 KiB``, ``128 MiB``."""
    if n < 1024:
        return f"{n} bytes"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError  # unreachable


# -- delivery -------------------------------------------------------------------------------


def collect(
    entries: Iterable[OutputEntry],
    dest: Path,
    limits: Limits,
    *,
    overwrite: bool = False,
    extensions: Collection[str] = DELIVERABLE_EXTENSIONS,
) -> CollectResult:
    """Deliver the regular files among ``entries`` into ``dest``, all or nothing.

    ``dest`` (and its parents) are created if missing; ``dest`` itself may not be a symbolic
    link. ``extensions`` are the deliverable file types (without dots, any case). Returns what
    was delivered and what was rejected, with reasons. Raises
    :class:`~promptkiln.errors.DestinationError` when the destination cannot take the files
    (nothing of this call is left behind), and lets :class:`~promptkiln.errors.OutputError`
    from the entries (a corrupt archive) through after the same rollback.
    """
    allowed = frozenset(e.lower().lstrip(".") for e in extensions)
    return _Delivery(Path(os.path.abspath(dest)), limits, overwrite, allowed).run(entries)


@dataclass
class _Output:
    """A staged output: where it came from, and its file in the staging directory."""

    index: int
    raw: str
    name: str
    file: Staged

    @property
    def rank(self) -> tuple[bool, bool, int]:
        """Lower wins a collision: already normalised, then lower case, then first."""
        return _rank(self.index, self.raw, self.name)


def _rank(index: int, raw: str, name: str) -> tuple[bool, bool, int]:
    return (raw != name, name != name.lower(), index)


class _Rejections:
    def __init__(self) -> None:
        self.listed: list[Rejection] = []
        self.more: Counter[str] = Counter()

    def add(self, raw: str, reason: str, summary: str | None = None) -> None:
        if len(self.listed) < MAX_LISTED_REJECTIONS:
            self.listed.append(Rejection(printable(raw), reason))
        else:
            self.more[summary or reason] += 1

    def result(self) -> list[Rejection]:
        if not self.more:
            return list(self.listed)
        reasons = "; ".join(f"{why} ({n})" for why, n in self.more.most_common(5))
        more = Rejection(
            f"(and {sum(self.more.values())} more)", f"not listed one by one: {reasons}"
        )
        return [*self.listed, more]


def _chunks(entry: OutputEntry, limit: int) -> Iterator[bytes]:
    try:
        if isinstance(entry, ChunkedEntry):
            yield from entry.read_chunks(limit)
        else:
            yield entry.read(limit)
    except OSError as exc:
        raise OutputError(
            f"could not read {printable(entry.raw_name)} from the sandbox: {exc.strerror or exc}"
        ) from exc


def _source(entries: Iterable[OutputEntry]) -> Iterator[OutputEntry]:
    """The entries, with the source's own OS errors kept apart from the destination's."""
    it = iter(entries)
    while True:
        try:
            entry = next(it)
        except StopIteration:
            return
        except OSError as exc:
            raise OutputError(f"could not list the sandbox's outputs: {exc}") from exc
        yield entry


class _Delivery:
    """The policy: which entries become outputs, under which names, within which caps."""

    def __init__(self, dest: Path, limits: Limits, overwrite: bool, allowed: frozenset[str]):
        self.out = Destination(dest, overwrite=overwrite)
        self.limits = limits
        self.allowed = allowed
        self.rejections = _Rejections()
        self.staged: dict[str, _Output] = {}  # case-folded name -> output
        self.dir_keys: set[str] = set()  # case-folded directory names the outputs need
        self.total = 0

    def run(self, entries: Iterable[OutputEntry]) -> CollectResult:
        try:
            self.out.open()
            for index, entry in enumerate(_source(entries)):
                self._take(index, entry)
            artifacts = self._place_all()
        except OSError as exc:
            self.out.rollback()
            raise self.out.error(exc) from exc
        except BaseException:
            self.out.rollback()
            raise
        self.out.finish(keep_dest=bool(artifacts))
        return CollectResult(artifacts, self.rejections.result())

    def _take(self, index: int, entry: OutputEntry) -> None:
        raw = entry.raw_name
        if isinstance(entry, RejectedEntry):
            self.rejections.add(raw, entry.reason)
            return
        kind = entry.kind
        if kind is EntryKind.DIR:
            return
        if kind is not EntryKind.FILE:
            self.rejections.add(raw, _KIND_REASONS.get(kind, "not a regular file"))
            return
        try:
            name = sanitize_name(raw)
        except UnsafeName as exc:
            self.rejections.add(raw, exc.reason, "unsafe name")
            return
        per_file = self.limits.output_file_bytes
        problems = []
        ext = extension_of(name)
        if ext not in self.allowed:
            problems.append(
                f"file type '.{ext}' is not delivered"
                if ext
                else "no file extension (only documents, images and data are delivered)"
            )
        if entry.size > per_file:
            problems.append(
                f"too large: {_size(entry.size)} (the limit is {_size(per_file)} per file)"
            )
        if problems:
            self.rejections.add(raw, "; ".join(problems), "file type or size")
            return
        reason = self._conflict(index, raw, name)
        if reason:
            self.rejections.add(raw, reason, "name conflict or file count")
            return
        key = name.casefold()
        rival = self.staged.get(key)
        remaining = self.limits.output_bytes - self.total + (rival.file.size if rival else 0)
        if entry.size > remaining:
            self.rejections.add(raw, self._over_total(), "over the total output limit")
            return
        limit = min(per_file, remaining)
        self.out.need = self.total + entry.size
        staged = self.out.stage(_chunks(entry, limit), name, limit)
        if staged is None:
            over = (
                self._over_total()
                if limit < per_file
                else f"too large: more than {_size(per_file)} (the limit per file)"
            )
            self.rejections.add(raw, over, "file type or size")
            return
        if rival is not None:
            self.out.discard(rival.file)
            self.total -= rival.file.size
            self.rejections.add(
                rival.raw, _same_name(name, rival.name), "name conflict or file count"
            )
        self.staged[key] = _Output(index, raw, name, staged)
        self.total += staged.size
        parts = key.split("/")
        self.dir_keys.update("/".join(parts[:i]) for i in range(1, len(parts)))

    def _over_total(self) -> str:
        return f"would exceed the total output limit of {_size(self.limits.output_bytes)}"

    def _conflict(self, index: int, raw: str, name: str) -> str | None:
        key = name.casefold()
        parts = key.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.staged:
                return f"its directory {printable('/'.join(name.split('/')[:i]))} is also a file"
        if key in self.dir_keys:
            return "a directory of the same name holds other outputs"
        rival = self.staged.get(key)
        if rival is not None:
            if _rank(index, raw, name) > rival.rank:
                return _same_name(rival.name, name)
        elif len(self.staged) >= self.limits.output_files:
            return f"too many files: the limit is {self.limits.output_files}"
        return None

    def _place_all(self) -> list[Artifact]:
        taken = set(self.staged)
        artifacts = []
        for output in sorted(self.staged.values(), key=lambda o: o.name):
            final = self.out.place(output.name, output.file, taken, self.dir_keys)
            f = output.file
            path = str(self.out.dest / final)
            artifacts.append(Artifact(final, path, f.size, f.sha256, f.media_type))
        return artifacts


def _same_name(other: str, name: str) -> str:
    how = "once Unicode-normalised (NFC)" if other == name else "apart from letter case"
    return (
        f"the same name as {printable(other)} {how}: one would overwrite the other "
        "on macOS and Windows"
    )
