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
* **Destination.** Files are staged in ``<dest>/.promptkiln-staging-<random>`` (mode 0700, same
  file system), then linked into place without following any link: directories are opened with
  ``O_NOFOLLOW`` relative to their parent's descriptor, names are claimed with ``link``/``O_EXCL``.
  An existing file is kept and the new one gets a suffix, ``chart.png`` → ``chart (1).png``,
  unless ``overwrite``; a directory name held by a file or link gets one too (``charts (1)/``).
  On any failure everything this call placed is removed again and a
  :class:`~promptkiln.errors.DestinationError` says what to do (``KeyboardInterrupt`` and
  :class:`~promptkiln.errors.OutputError` from the entries are re-raised after the rollback).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from promptkiln.errors import DestinationError, OutputError
from promptkiln.sandbox.base import Artifact, EntryKind, Limits, OutputEntry, Rejection
from promptkiln.sandbox.filetypes import detect_file
from promptkiln.sandbox.tarentries import ChunkedEntry, RejectedEntry

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

MAX_DEPTH = 8  #: path components, the file included
MAX_COMPONENT_BYTES = 255  #: UTF-8 bytes per component (NAME_MAX; also ≤ 255 UTF-16 units)
MAX_NAME_BYTES = 1024  #: UTF-8 bytes of the whole relative name
#: Rejections listed one by one; the rest are summarised in one more entry.
MAX_LISTED_REJECTIONS = 100
STAGING_PREFIX = ".promptkiln-staging-"

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

_PUNCTUATION = frozenset(" ._-+,()@")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789¹²³"]
)
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


class UnsafeName(ValueError):
    """A name that may not be delivered; ``reason`` says why."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"{printable(raw)}: {reason}")
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True)
class CollectResult:
    artifacts: list[Artifact] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


# -- names ----------------------------------------------------------------------------------


def printable(s: str, limit: int = 200) -> str:
    """``s`` safe to print on a terminal: control, format (bidi), odd whitespace, private and
    unassigned characters escaped (``\\x1b``, ``\\u202e``), backslashes doubled, and cut to at
    most ``limit`` characters with ``…``. Undecodable bytes (surrogate escapes) show as ``\\xNN``."""
    pieces: list[str] = []
    length = 0
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            piece = "\\\\"
        elif 0xDC80 <= o <= 0xDCFF:
            piece = f"\\x{o - 0xDC00:02x}"
        elif o < 0x20 or 0x7F <= o < 0xA0:
            piece = f"\\x{o:02x}"
        elif _invisible(ch):
            piece = f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"
        else:
            piece = ch
        pieces.append(piece)
        length += len(piece)
        if length > limit:
            break
    if length <= limit:
        return "".join(pieces)
    while pieces and length > limit - 1:
        length -= len(pieces.pop())
    return "".join(pieces) + "…"


def _invisible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or (cat == "Zs" and ch != " ")


def sanitize_name(raw: str) -> str:
    """The safe, NFC-normalised form of a relative output name, or :class:`UnsafeName`."""
    if not raw:
        raise UnsafeName(raw, "empty name")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in raw):
        raise UnsafeName(raw, "the name is not valid UTF-8")
    if raw.startswith("/"):
        raise UnsafeName(raw, "absolute path")
    if "\\" in raw:
        raise UnsafeName(raw, "backslash in the name (a path separator on Windows)")
    if len(raw) >= 2 and raw[1] == ":" and raw[0].isascii() and raw[0].isalpha():
        raise UnsafeName(raw, "drive-letter path")
    name = unicodedata.normalize("NFC", raw)
    parts = name.split("/")
    if ".." in parts:
        raise UnsafeName(raw, "parent-directory reference ('..')")
    if len(parts) > MAX_DEPTH:
        raise UnsafeName(raw, f"nested too deeply ({len(parts)} levels; the limit is {MAX_DEPTH})")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise UnsafeName(raw, f"path too long ({size} bytes; the limit is {MAX_NAME_BYTES})")
    for part in parts:
        reason = _component_problem(part)
        if reason:
            raise UnsafeName(raw, reason)
    return name


def _component_problem(part: str) -> str | None:
    if not part:
        return "empty path component ('//' or a trailing '/')"
    if part == ".":
        return "'.' path component"
    for ch in part:
        if ch in _PUNCTUATION or unicodedata.category(ch)[0] in "LMN":
            continue
        if _invisible(ch):
            kind = "control" if unicodedata.category(ch) == "Cc" else "invisible or formatting"
            return f"{kind} character {printable(ch)} in the name"
        return f"character {ch!r} is not allowed in file names"
    size = len(part.encode("utf-8"))
    if size > MAX_COMPONENT_BYTES:
        return f"name component too long ({size} bytes; the limit is {MAX_COMPONENT_BYTES})"
    if part[0] == ".":
        return "hidden name (starts with '.')"
    if part[0] == "-":
        return "starts with '-' (would be read as a command-line option)"
    if part[0] == " ":
        return "starts with a space"
    if part[-1] in ". ":
        return "ends with a dot or a space (Windows strips them)"
    if part.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        return "a reserved device name on Windows"
    compat = unicodedata.normalize("NFKC", part)
    if compat != part and _component_problem(compat) is not None:
        return "contains look-alike characters (its compatibility form is not a safe name)"
    return None


def _extension(name: str) -> str:
    leaf = name.rsplit("/", 1)[-1]
    dot = leaf.rfind(".")
    return leaf[dot + 1 :].lower() if dot > 0 else ""


def _suffixed(leaf: str, n: int) -> str:
    """``chart.png`` → ``chart (n).png``, kept within :data:`MAX_COMPONENT_BYTES`."""
    dot = leaf.rfind(".")
    stem, ext = (leaf[:dot], leaf[dot:]) if dot > 0 else (leaf, "")
    tail = f" ({n}){ext}"
    while stem and len((stem + tail).encode("utf-8")) > MAX_COMPONENT_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" ") + tail


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
class _Staged:
    index: int
    raw: str
    name: str
    leaf: str  #: its name inside the staging directory
    size: int
    sha256: str
    media_type: str
    ident: tuple[int, int]

    @property
    def rank(self) -> tuple[bool, bool, int]:
        """Lower wins a collision: already normalised, then lower case, then first."""
        return (self.raw != self.name, self.name != self.name.lower(), self.index)


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
    def __init__(self, dest: Path, limits: Limits, overwrite: bool, allowed: frozenset[str]):
        self.dest = dest
        self.limits = limits
        self.overwrite = overwrite
        self.allowed = allowed
        self.rejections = _Rejections()
        self.staged: dict[str, _Staged] = {}  # case-folded name -> file
        self.dir_keys: set[str] = set()  # case-folded directory names implied by staged files
        self.total = 0
        self.need = 0  # bytes the outputs need, for the disk-full message
        self.counter = 0
        self.created: list[str] = []  # dest and the parents this call made, deepest first
        self.dest_fd = self.staging_fd = -1
        self.staging_name = ""
        self.dir_fds: dict[str, tuple[int, list[str]]] = {}
        self.made_dirs: list[tuple[int, str]] = []
        self.placed: list[tuple[int, str, tuple[int, int]]] = []
        self.backups: list[tuple[int, str, str]] = []

    def run(self, entries: Iterable[OutputEntry]) -> CollectResult:
        try:
            self._open_dest()
            for index, entry in enumerate(_source(entries)):
                self._take(index, entry)
            artifacts = self._place_all()
        except OSError as exc:
            self._rollback()
            raise self._error(exc) from exc
        except BaseException:
            self._rollback()
            raise
        self._cleanup(keep_dest=bool(artifacts))
        return CollectResult(artifacts, self.rejections.result())

    # -- destination --------------------------------------------------------------------

    def _open_dest(self) -> None:
        where = str(self.dest)
        try:
            st: os.stat_result | None = os.lstat(self.dest)
        except FileNotFoundError:
            st = None
        if st is None:
            p = self.dest
            while not os.path.lexists(p) and p.parent != p:
                self.created.append(str(p))
                p = p.parent
            os.makedirs(self.dest, 0o755, exist_ok=True)
        elif stat.S_ISLNK(st.st_mode):
            raise DestinationError(
                "--out is a symbolic link; give the real directory",
                path=where,
                hint=f"{printable(where)} points to {printable(os.readlink(self.dest))}",
            )
        elif not stat.S_ISDIR(st.st_mode):
            raise DestinationError(
                f"--out {printable(where)} exists and is not a directory",
                path=where,
                hint="give a directory (it is created if missing)",
            )
        self.dest_fd = os.open(self.dest, _O_DIR)
        self.staging_name = STAGING_PREFIX + secrets.token_hex(8)
        os.mkdir(self.staging_name, 0o700, dir_fd=self.dest_fd)
        self.staging_fd = os.open(self.staging_name, _O_DIR, dir_fd=self.dest_fd)

    def _error(self, exc: OSError) -> DestinationError:
        where = printable(str(self.dest))
        code = exc.errno

        def err(message: str, hint: str) -> DestinationError:
            return DestinationError(message, path=str(self.dest), hint=hint)

        if code in (errno.ENOSPC, errno.EDQUOT):
            mb = max(1, -(-self.need // 1_000_000))
            return err(
                f"no space left on {where}", f"free at least {mb} MB or choose another --out"
            )
        if code == errno.EROFS:
            return err(f"{where} is on a read-only file system", "choose another --out")
        if code in (errno.EACCES, errno.EPERM):
            return err(
                f"permission denied writing to {where}",
                "choose a directory you can write to with --out",
            )
        if code == errno.ELOOP:
            return err(
                f"a symbolic link appeared inside {where} while the files were written",
                "promptkiln never writes through links; check who else writes there",
            )
        if code == errno.EXDEV:
            return err(
                f"part of {where} is on another file system (a mount point inside it)",
                "choose a plain directory as --out",
            )
        if code == errno.ENAMETOOLONG:
            return err(
                f"a name is too long for the file system of {where}",
                "choose a destination on a file system with 255-byte names",
            )
        return err(
            f"cannot write to {where}: {exc.strerror or exc}",
            "check the directory or choose another --out",
        )

    # -- staging ------------------------------------------------------------------------

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
        ext = _extension(name)
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
        remaining = self.limits.output_bytes - self.total + (rival.size if rival else 0)
        if entry.size > remaining:
            self.rejections.add(raw, self._over_total(), "over the total output limit")
            return
        limit = min(per_file, remaining)
        self.need = self.total + entry.size
        staged = self._stage(index, entry, raw, name, limit)
        if staged is None:
            over = (
                self._over_total()
                if limit < per_file
                else (f"too large: more than {_size(per_file)} (the limit per file)")
            )
            self.rejections.add(raw, over, "file type or size")
            return
        if rival is not None:
            os.unlink(rival.leaf, dir_fd=self.staging_fd)
            self.total -= rival.size
            self.rejections.add(rival.raw, _same_name(name), "name conflict or file count")
        self.staged[key] = staged
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
            if (raw != name, name != name.lower(), index) > rival.rank:
                return _same_name(rival.name)
        elif len(self.staged) >= self.limits.output_files:
            return f"too many files: the limit is {self.limits.output_files}"
        return None

    def _stage(
        self, index: int, entry: OutputEntry, raw: str, name: str, limit: int
    ) -> _Staged | None:
        leaf = str(self.counter)
        self.counter += 1
        fd = os.open(leaf, _O_NEW, 0o600, dir_fd=self.staging_fd)
        digest = hashlib.sha256()
        size = 0
        with open(fd, "w+b") as f:
            for chunk in _chunks(entry, limit):
                size += len(chunk)
                if size > limit:
                    break
                digest.update(chunk)
                f.write(chunk)
            if size <= limit:
                f.flush()
                os.fchmod(f.fileno(), 0o644)
                os.fsync(f.fileno())
                media_type = detect_file(f, name)
                st = os.fstat(f.fileno())
        if size > limit:
            os.unlink(leaf, dir_fd=self.staging_fd)
            return None
        return _Staged(
            index, raw, name, leaf, size, digest.hexdigest(), media_type, (st.st_dev, st.st_ino)
        )

    # -- placing ------------------------------------------------------------------------

    def _place_all(self) -> list[Artifact]:
        taken = set(self.staged)
        artifacts = []
        for staged in sorted(self.staged.values(), key=lambda s: s.name):
            *dirs, leaf = staged.name.split("/")
            dir_fd, final_dirs = self._dir_for(dirs, taken)
            final = "/".join([*final_dirs, self._put(dir_fd, final_dirs, leaf, staged, taken)])
            artifacts.append(
                Artifact(
                    final, str(self.dest / final), staged.size, staged.sha256, staged.media_type
                )
            )
        return artifacts

    def _dir_for(self, dirs: list[str], taken: set[str]) -> tuple[int, list[str]]:
        """Open (creating) the directories of an output, never through a link. A directory name
        held by a file or link in the destination gets a suffix, as files do: ``charts (1)``."""
        fd, rel = self.dest_fd, ""
        final: list[str] = []
        for part in dirs:
            rel = f"{rel}/{part}" if rel else part
            if rel in self.dir_fds:
                fd, final = self.dir_fds[rel]
                continue
            prefix = "".join(d + "/" for d in final)
            for n in range(1000):
                candidate = f"{part} ({n})" if n else part
                key = (prefix + candidate).casefold()
                if n and (key in taken or key in self.dir_keys):
                    continue
                sub = self._open_dir(fd, candidate)
                if sub >= 0:
                    break
            else:
                raise DestinationError(
                    f"cannot create the directory {printable(rel)} in {printable(str(self.dest))}",
                    path=str(self.dest / rel),
                    hint="too many files or links named like it are in the way; choose another --out",
                )
            taken.add(key)
            final = [*final, candidate]
            self.dir_fds[rel] = (sub, final)
            fd = sub
        return fd, final

    def _open_dir(self, parent: int, name: str) -> int:
        """A descriptor for directory ``name`` (made if missing), or -1 if a non-directory or a
        link holds the name."""
        try:
            os.mkdir(name, 0o755, dir_fd=parent)
            self.made_dirs.append((parent, name))
        except FileExistsError:
            pass
        try:
            return os.open(name, _O_DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                return -1
            raise

    def _put(
        self, dir_fd: int, dirs: list[str], leaf: str, staged: _Staged, taken: set[str]
    ) -> str:
        prefix = "".join(d + "/" for d in dirs)
        if self.overwrite and self._replace(dir_fd, leaf, staged):
            return leaf
        for n in range(1000):
            candidate = _suffixed(leaf, n) if n else leaf
            key = (prefix + candidate).casefold()
            if n and key in taken:
                continue
            if self._claim(dir_fd, candidate, staged):
                taken.add(key)
                return candidate
        where = str(self.dest / prefix / leaf)
        raise DestinationError(
            f"too many files named like {printable(where)} already exist",
            path=where,
            hint="clean up or choose another --out",
        )

    def _claim(self, dir_fd: int, name: str, staged: _Staged) -> bool:
        """Move a staged file to ``name`` unless something (even a dangling link) is there."""
        try:
            os.link(
                staged.leaf,
                name,
                src_dir_fd=self.staging_fd,
                dst_dir_fd=dir_fd,
                follow_symlinks=False,
            )
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            # No hard links on this file system: claim the name, then rename over the claim.
            try:
                os.close(os.open(name, _O_NEW, 0o600, dir_fd=dir_fd))
            except FileExistsError:
                return False
            try:
                os.rename(staged.leaf, name, src_dir_fd=self.staging_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.unlink(name, dir_fd=dir_fd)
                raise
        else:
            os.unlink(staged.leaf, dir_fd=self.staging_fd)
        self.placed.append((dir_fd, name, staged.ident))
        return True

    def _replace(self, dir_fd: int, name: str, staged: _Staged) -> bool:
        """Overwrite mode: replace a file or link at ``name`` (kept aside until the end)."""
        try:
            old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(old.st_mode):
            return False
        backup = f"old-{self.counter}"
        self.counter += 1
        os.rename(name, backup, src_dir_fd=dir_fd, dst_dir_fd=self.staging_fd)
        self.backups.append((dir_fd, name, backup))
        os.rename(staged.leaf, name, src_dir_fd=self.staging_fd, dst_dir_fd=dir_fd)
        self.placed.append((dir_fd, name, staged.ident))
        return True

    # -- ending -------------------------------------------------------------------------

    def _rollback(self) -> None:
        for dir_fd, name, ident in reversed(self.placed):
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if (st.st_dev, st.st_ino) == ident:
                    os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
        for dir_fd, name, backup in reversed(self.backups):
            with contextlib.suppress(OSError):
                os.rename(backup, name, src_dir_fd=self.staging_fd, dst_dir_fd=dir_fd)
        for dir_fd, name in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=dir_fd)
        self._cleanup(keep_dest=False)

    def _cleanup(self, *, keep_dest: bool) -> None:
        if self.staging_fd >= 0:
            try:
                for leaf in os.listdir(self.staging_fd):
                    os.unlink(leaf, dir_fd=self.staging_fd)
            except OSError:
                pass
            os.close(self.staging_fd)
            self.staging_fd = -1
            with contextlib.suppress(OSError):
                os.rmdir(self.staging_name, dir_fd=self.dest_fd)
        for fd, _ in self.dir_fds.values():
            os.close(fd)
        self.dir_fds.clear()
        if self.dest_fd >= 0:
            os.close(self.dest_fd)
            self.dest_fd = -1
        if not keep_dest:
            for path in self.created:
                try:
                    os.rmdir(path)
                except OSError:
                    break


def _same_name(other: str) -> str:
    return (
        f"same name as {printable(other)} when letter case and Unicode normalisation are "
        "ignored (one would overwrite the other on macOS and Windows)"
    )
