"""Raw output entries read from a tar stream: :func:`tar_entries` reads the stream docker-py's
``container.get_archive(path)`` returns (an iterable of byte chunks) strictly sequentially with
:mod:`tarfile`'s streaming mode. It never extracts anything; it only reports what each member
claims to be and lets the current member's bytes be read. The content is hostile: a name outside
the archived directory or more entries than allowed come out as
:class:`~promptkiln.sandbox.entries.RejectedEntry`; a truncated or malformed archive raises
:class:`CorruptArchive`. The same entries from a local directory: :mod:`promptkiln.sandbox.direntries`.

Entries are readable only while they are current: read a FILE entry before advancing the
iterator, and read it once (a second read continues where the first stopped).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from typing import IO

from promptkiln.errors import OutputError
from promptkiln.sandbox.base import EntryKind, OutputEntry
from promptkiln.sandbox.entries import CHUNK_BYTES, MAX_DIRS, RejectedEntry

#: A PAX or GNU long-name header larger than this is treated as a hostile archive.
MAX_HEADER_BYTES = 1024 * 1024
#: A member claiming more bytes than this is hostile (a real one cannot fit in any sandbox).
MAX_CLAIMED_BYTES = 1 << 40

_TAR_KINDS: dict[bytes, EntryKind] = {
    tarfile.REGTYPE: EntryKind.FILE,
    tarfile.AREGTYPE: EntryKind.FILE,
    tarfile.CONTTYPE: EntryKind.FILE,
    tarfile.DIRTYPE: EntryKind.DIR,
    tarfile.SYMTYPE: EntryKind.SYMLINK,
    tarfile.LNKTYPE: EntryKind.HARDLINK,
    tarfile.FIFOTYPE: EntryKind.FIFO,
    tarfile.CHRTYPE: EntryKind.CHARDEV,
    tarfile.BLKTYPE: EntryKind.BLOCKDEV,
    # GNU sparse members and anything else unusual: never produced for a plain sandbox file.
}
_META_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


class CorruptArchive(OutputError):
    """The output archive is truncated or malformed."""


class _ChunkReader(io.RawIOBase):
    """A minimal read-only file object over an iterable of byte chunks."""

    #: After the end was reported this many times, further reads mean a runaway seek loop.
    _EOF_READS = 64

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] | None = iter(chunks)
        self._chunk = memoryview(b"")
        self._pos = 0
        self._eof_reads = 0
        self.consumed = 0

    def _next_chunk(self) -> bool:
        if self._chunks is None:
            return False
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._chunks = None
            return False
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise CorruptArchive("the output archive stream yielded something other than bytes")
        self._chunk, self._pos = memoryview(chunk).cast("B"), 0
        return True

    def read(self, n: int | None = -1) -> bytes:
        want = -1 if n is None or n < 0 else n
        parts: list[bytes] = []
        got = 0
        while want < 0 or got < want:
            if self._pos >= len(self._chunk) and not self._next_chunk():
                break
            end = len(self._chunk) if want < 0 else min(len(self._chunk), self._pos + want - got)
            parts.append(bytes(self._chunk[self._pos : end]))
            got += end - self._pos
            self._pos = end
        if not got and want != 0:
            self._eof_reads += 1
            if self._eof_reads > self._EOF_READS:
                raise CorruptArchive(
                    "the output archive ends in the middle of a member",
                    hint="the sandbox's output is incomplete; run again",
                )
        self.consumed += got
        return b"".join(parts)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


#: tarfile's "a block of zeros": the proper end of an archive.
_END_MARKER: type[Exception] = getattr(tarfile, "EOFHeaderError", tarfile.HeaderError)


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses huge metadata headers before tarfile reads them into memory, and
    turns a damaged or missing header after the first one into an error (tarfile would quietly
    end the archive there and drop the rest)."""

    @classmethod
    def fromtarfile(cls, tf: tarfile.TarFile) -> _BoundedTarInfo:
        try:
            return super().fromtarfile(tf)
        except _END_MARKER:
            raise
        except tarfile.HeaderError as exc:
            if tf.offset == 0:
                raise  # tarfile reports a bad first header as ReadError
            raise CorruptArchive(
                f"the output archive is truncated or damaged at byte {tf.offset} ({exc})",
                hint="the sandbox's output is incomplete; run again",
            ) from exc

    def _proc_member(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _META_TYPES and self.size > MAX_HEADER_BYTES:
            raise CorruptArchive(
                f"the output archive has a {self.size}-byte metadata header "
                f"(more than {MAX_HEADER_BYTES}); it is not read",
            )
        if self.size > MAX_CLAIMED_BYTES or self.size < 0:
            raise CorruptArchive(f"the output archive claims a {self.size}-byte member")
        return super()._proc_member(tarfile)  # type: ignore[misc, no-any-return]

    # Sparse maps that continue in the data stream could grow without bound; a sandbox file
    # never arrives sparse (Docker writes plain members), so such archives are refused.
    def _proc_sparse(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        if getattr(self, "_sparse_structs", (None, False))[1]:
            raise CorruptArchive("the output archive has extended sparse members; it is not read")
        return super()._proc_sparse(tarfile)  # type: ignore[misc, no-any-return]

    def _proc_gnusparse_10(self, *args: object) -> None:
        raise CorruptArchive("the output archive has GNU sparse 1.0 members; it is not read")


class _TarEntry:
    def __init__(
        self,
        raw_name: str,
        member: tarfile.TarInfo,
        archive: tarfile.TarFile,
        generation: list[int],
    ) -> None:
        self.raw_name = raw_name
        self.kind = _TAR_KINDS.get(member.type, EntryKind.OTHER)
        self.size = member.size
        self.mode = member.mode
        self._member = member
        self._archive = archive
        self._generation = generation
        self._mine = generation[0]
        self._file: IO[bytes] | None = None

    def read_chunks(self, limit: int) -> Iterator[bytes]:
        if self.kind is not EntryKind.FILE:
            return
        if self._generation[0] != self._mine:
            raise RuntimeError(f"tar entry {self.raw_name!r} is no longer current; read it first")
        if self._file is None:
            self._file = self._archive.extractfile(self._member)
            if self._file is None:
                return
        remaining = limit + 1
        while remaining > 0:
            try:
                chunk = self._file.read(min(CHUNK_BYTES, remaining))
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise CorruptArchive(
                    f"the output archive ends inside {self.raw_name!r}: {exc}",
                    hint="the sandbox's output is incomplete; run again",
                ) from exc
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def read(self, limit: int) -> bytes:
        return b"".join(self.read_chunks(limit))

    def __repr__(self) -> str:
        return f"<tar entry {self.raw_name!r} {self.kind.value} {self.size}>"


def tar_entries(
    chunks: Iterable[bytes],
    *,
    strip_prefix: str = "work/",
    skip_dirs: tuple[str, ...] = ("inputs",),
    max_entries: int,
) -> Iterator[OutputEntry]:
    """Yield the members of a tar stream as output entries.

    ``chunks`` is the byte-chunk iterable of a tar archive (docker-py's ``get_archive`` stream);
    member names start with ``strip_prefix`` (the archived directory's basename), which is
    removed. The directory itself and everything under ``skip_dirs`` is skipped. Members outside
    the prefix are yielded as :class:`RejectedEntry`. After ``max_entries`` non-directory members
    (or :data:`MAX_DIRS` directories) reading stops and one :class:`RejectedEntry` says so.

    A truncated or malformed archive raises :class:`CorruptArchive` (an ``OutputError``).
    Each yielded entry is readable only until the iterator is advanced.
    """
    reader = _ChunkReader(chunks)
    generation = [0]
    try:
        archive = tarfile.open(  # noqa: SIM115 (closed by the with below)
            fileobj=reader,
            mode="r|",
            tarinfo=_BoundedTarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except tarfile.ReadError as exc:
        if reader.consumed == 0:
            return  # an empty stream: nothing was archived
        raise _corrupt(exc) from exc
    except (tarfile.TarError, EOFError, ValueError, IndexError) as exc:
        raise _corrupt(exc) from exc
    root = strip_prefix.rstrip("/")
    files = dirs = 0
    with archive:
        members = iter(archive)
        while True:
            try:
                member = next(members)
            except StopIteration:
                break
            except CorruptArchive:
                raise
            except (
                tarfile.TarError,
                EOFError,
                ValueError,
                IndexError,
                OverflowError,
                UnicodeError,
            ) as exc:
                raise _corrupt(exc) from exc
            archive.members.clear()  # type: ignore[attr-defined]  # streaming: keep none
            generation[0] += 1
            name = member.name
            if name in (root, strip_prefix):
                continue
            if not name.startswith(strip_prefix):
                files += 1
                yield RejectedEntry(name, "outside the working directory")
            else:
                rel = name[len(strip_prefix) :]
                if rel.split("/", 1)[0] in skip_dirs:
                    continue
                entry = _TarEntry(rel, member, archive, generation)
                if entry.kind is EntryKind.DIR:
                    dirs += 1
                else:
                    files += 1
                if files > max_entries or dirs > MAX_DIRS:
                    yield RejectedEntry(
                        "(the remaining entries)",
                        f"too many entries in the output: only the first {max_entries} "
                        "were examined",
                    )
                    return
                yield entry


def _corrupt(exc: BaseException) -> CorruptArchive:
    return CorruptArchive(
        f"the output archive is truncated or malformed ({type(exc).__name__}: {exc})",
        hint="the sandbox's output is incomplete; run again",
    )
