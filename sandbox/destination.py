"""The destination side of collection: an all-or-nothing write into the user's directory.

:class:`Destination` stages files in ``<dest>/.promptkiln-staging-<random>`` (mode 0700, on the
destination's own file system), then links each into place. Nothing is ever written through a
link: the destination itself must not be one, every directory below it is opened with
``O_NOFOLLOW`` relative to its parent's descriptor, and names are claimed with ``link`` (or
``O_EXCL``), which fail on anything already there, dangling links included. Existing files are
kept and the new one takes a suffix, ``chart.png`` → ``chart (1).png`` (directories too:
``charts (1)/``), unless ``overwrite``, where files and links (never directories) are replaced
and kept aside until the end. :meth:`Destination.rollback` undoes everything this call did.
The policy of what to deliver lives in :mod:`promptkiln.sandbox.collect`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from promptkiln import leftovers
from promptkiln.errors import DestinationError
from promptkiln.sandbox.filetypes import detect_file
from promptkiln.sandbox.names import printable, suffixed

STAGING_PREFIX = ".promptkiln-staging-"

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


@dataclass
class Staged:
    """A file written into the staging directory, not yet in place."""

    leaf: str  #: its name inside the staging directory
    size: int
    sha256: str
    media_type: str
    ident: tuple[int, int]  #: (st_dev, st_ino), to remove only our own file on rollback


class Destination:
    """One delivery into ``dest``: :meth:`open`, :meth:`stage` files, :meth:`place` them, then
    :meth:`finish` — or :meth:`rollback` on any failure."""

    def __init__(self, dest: Path, *, overwrite: bool) -> None:
        self.dest = dest
        self.overwrite = overwrite
        self.need = 0  #: bytes the outputs need, for the disk-full message
        self.counter = 0
        self.created: list[str] = []  # dest and the parents this call made, deepest first
        self.dest_fd = self.staging_fd = -1
        self.staging_name = ""
        self.dir_fds: dict[str, tuple[int, list[str]]] = {}
        self.made_dirs: list[tuple[int, str]] = []
        self.placed: list[tuple[int, str, tuple[int, int]]] = []
        self.backups: list[tuple[int, str, str]] = []

    def open(self) -> None:
        """Create ``dest`` if missing (never accepting a link) and the staging directory."""
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
        leftovers.sweep(dir_fd=self.dest_fd)  # staging of deliveries that were kill -9'd
        self.staging_name = leftovers.owned_name(STAGING_PREFIX)
        os.mkdir(self.staging_name, 0o700, dir_fd=self.dest_fd)
        self.staging_fd = os.open(self.staging_name, _O_DIR, dir_fd=self.dest_fd)

    def error(self, exc: OSError) -> DestinationError:
        """The user-facing error for an OS error met while writing."""
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

    def stage(self, chunks: Iterable[bytes], name: str, limit: int) -> Staged | None:
        """Write ``chunks`` to a new staging file, mode 0644; None (and nothing kept) if they
        come to more than ``limit`` bytes. ``name`` is the output's name, a type hint."""
        leaf = str(self.counter)
        self.counter += 1
        fd = os.open(leaf, _O_NEW, 0o600, dir_fd=self.staging_fd)
        digest = hashlib.sha256()
        size = 0
        with open(fd, "w+b") as f:
            for chunk in chunks:
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
        return Staged(leaf, size, digest.hexdigest(), media_type, (st.st_dev, st.st_ino))

    def discard(self, staged: Staged) -> None:
        os.unlink(staged.leaf, dir_fd=self.staging_fd)

    def place(self, name: str, staged: Staged, taken: set[str], planned_dirs: set[str]) -> str:
        """Move a staged file into place as ``name`` (relative, sanitised); return the name it
        got. ``taken`` holds the case-folded names of every output of this delivery (suffixes
        avoid them, and are added); ``planned_dirs`` the case-folded directories they need."""
        *dirs, leaf = name.split("/")
        dir_fd, final_dirs = self._dir_for(dirs, taken, planned_dirs)
        return "/".join([*final_dirs, self._put(dir_fd, final_dirs, leaf, staged, taken)])

    def _dir_for(
        self, dirs: list[str], taken: set[str], planned_dirs: set[str]
    ) -> tuple[int, list[str]]:
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
                if n and (key in taken or key in planned_dirs):
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

    def _put(self, dir_fd: int, dirs: list[str], leaf: str, staged: Staged, taken: set[str]) -> str:
        prefix = "".join(d + "/" for d in dirs)
        if self.overwrite and self._replace(dir_fd, leaf, staged):
            return leaf
        for n in range(1000):
            candidate = suffixed(leaf, n) if n else leaf
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

    def _claim(self, dir_fd: int, name: str, staged: Staged) -> bool:
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

    def _replace(self, dir_fd: int, name: str, staged: Staged) -> bool:
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

    def rollback(self) -> None:
        """Remove what this delivery placed, put replaced files back, drop the staging."""
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
        self.finish(keep_dest=False)

    def finish(self, *, keep_dest: bool) -> None:
        """Drop the staging directory (with replaced files) and, unless ``keep_dest``, the
        directories this call created for ``dest``."""
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
