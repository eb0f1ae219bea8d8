"""Property tests: hostile trees through tar_entries/dir_entries -> collect, and sanitize_name.

Whatever the archive holds, collection either delivers or raises an OutputError (a corrupt
archive, a destination problem): never another exception, never a write outside the destination,
never a link inside it, and every delivered file is byte-for-byte one of the sources of its name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import re
import stat
import tarfile
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from promptkiln.errors import OutputError
from promptkiln.sandbox.base import Limits
from promptkiln.sandbox.collect import (
    MAX_DEPTH,
    MAX_NAME_BYTES,
    CollectResult,
    UnsafeName,
    collect,
    printable,
    sanitize_name,
)
from promptkiln.sandbox.direntries import dir_entries
from promptkiln.sandbox.tarentries import tar_entries

SAFE = [
    "report.txt",
    "Report.TXT",
    "data.csv",
    "DATA.CSV",
    "chart.png",
    "caf\u00e9.txt",
    "cafe\u0301.txt",
    "d",
    "D",
    "e.json",
    "a b.pdf",
    "x (1).txt",
    "ｆｉｌｅ.txt",
]
HOSTILE = [
    "..",
    ".",
    "",
    "x\x1b[31m.txt",
    "\u202etxt.exe",
    "zw\u200b.txt",
    "-rf",
    ".git",
    "config",
    "CON",
    "nul.txt",
    " ",
    "..\\x.txt",
    "C:",
    "%2e%2e",
    "\uff0e\uff0e",
    "inputs",
    "work",
    "x" * 300,
    "$(x).png",
    "a\udcff.txt",
]
component = st.one_of(
    st.sampled_from(SAFE),
    st.sampled_from(SAFE),
    st.sampled_from(HOSTILE),
    st.text(min_size=0, max_size=12),
)
names = st.lists(component, min_size=1, max_size=5).map("/".join)
KINDS = ["file"] * 10 + ["dir", "symlink", "hardlink", "fifo", "chardev", "blockdev"]


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str
    data: bytes
    link: str


specs = st.lists(
    st.builds(
        Spec,
        name=st.one_of(names, st.sampled_from(SAFE)),
        kind=st.sampled_from(KINDS),
        data=st.binary(max_size=300),
        link=st.one_of(st.sampled_from(["/etc/passwd", "../../x", "/", "work/a"]), names),
    ),
    max_size=25,
)
LIMITS = Limits(output_files=12, output_file_bytes=200, output_bytes=1500)


def build_tar(entries: list[Spec], prefix: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, errors="surrogateescape"
    ) as tf:
        for spec in entries:
            info = tarfile.TarInfo(prefix + spec.name)
            info.mode = 0o4777
            payload = None
            if spec.kind == "file":
                info.size = len(spec.data)
                payload = io.BytesIO(spec.data)
            else:
                info.type = {
                    "dir": tarfile.DIRTYPE,
                    "symlink": tarfile.SYMTYPE,
                    "hardlink": tarfile.LNKTYPE,
                    "fifo": tarfile.FIFOTYPE,
                    "chardev": tarfile.CHRTYPE,
                    "blockdev": tarfile.BLKTYPE,
                }[spec.kind]
                info.linkname = spec.link
            tf.addfile(info, payload)
    return buf.getvalue()


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, bytes | str | None]]:
    out: dict[str, tuple[int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            if p == skip:
                continue
            st_ = p.lstat()
            content: bytes | str | None = None
            if stat.S_ISREG(st_.st_mode):
                content = p.read_bytes()
            elif stat.S_ISLNK(st_.st_mode):
                content = os.readlink(p)
            out[str(p.relative_to(root))] = (st_.st_mode, content)
    return out


def check(result: CollectResult, sources: dict[str, set[bytes]], dest: Path) -> None:
    assert len(result.artifacts) <= LIMITS.output_files
    assert sum(a.size for a in result.artifacts) <= LIMITS.output_bytes
    real_dest = os.path.realpath(dest)
    for art in result.artifacts:
        path = Path(art.path)
        st_ = path.lstat()
        assert stat.S_ISREG(st_.st_mode) and st_.st_mode & 0o7777 == 0o644
        assert os.path.realpath(path).startswith(real_dest + os.sep)
        data = path.read_bytes()
        assert len(data) == art.size <= LIMITS.output_file_bytes
        assert hashlib.sha256(data).hexdigest() == art.sha256
        assert sanitize_name(art.name) == art.name
        assert data in sources[art.name]
    for r in result.rejections:
        assert printable(r.name) == r.name or "\\" in r.name
        assert not any(unicodedata.category(c)[0] in "CZ" and c != " " for c in r.name)
    if dest.exists():
        for p in dest.rglob("*"):
            assert not p.is_symlink()
            assert p.is_dir() or p.is_file()
            assert not p.name.startswith(".")


def files_in(dest: Path) -> set[str]:
    if not dest.exists():
        return set()
    return {str(p.relative_to(dest)) for p in dest.rglob("*") if not p.is_dir()}


def sources_by_name(entries: list[Spec]) -> dict[str, set[bytes]]:
    out: dict[str, set[bytes]] = {}
    for spec in entries:
        if spec.kind == "file":
            # tarfile drops trailing slashes from PAX path records: "é/" arrives as "é"
            for name in {spec.name, spec.name.rstrip("/")}:
                with contextlib.suppress(UnsafeName):
                    out.setdefault(sanitize_name(name), set()).add(spec.data)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=specs,
    chunk=st.integers(1, 5000),
    cut=st.one_of(st.none(), st.none(), st.none(), st.integers(0, 20_000)),
    prefix=st.sampled_from(["work/", "work/", "", "other/"]),
)
def test_archives_never_escape_the_destination(
    entries: list[Spec], chunk: int, cut: int | None, prefix: str
) -> None:
    data = build_tar(entries, prefix)
    if cut is not None:
        data = data[:cut]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bystander.txt").write_text("untouched")
        dest = root / "parent" / "out"
        dest.parent.mkdir()
        before = snapshot(root, dest)
        try:
            result = collect(
                tar_entries(
                    (data[i : i + chunk] for i in range(0, len(data), chunk)), max_entries=40
                ),
                dest,
                LIMITS,
            )
        except OutputError as exc:
            event(f"error: {type(exc).__name__}")
            assert not dest.exists() or not any(dest.iterdir())
            result = None
        assert snapshot(root, dest) == before
        if result is not None:
            event(f"delivered: {min(len(result.artifacts), 3)}")
            assert files_in(dest) == {a.name for a in result.artifacts}
            # What lies under work/ once the prefix is added is what may come out (a random name
            # can itself start with "work/" when the prefix is empty).
            inside = [
                dataclasses.replace(e, name=(prefix + e.name).removeprefix("work/"))
                for e in entries
                if (prefix + e.name).startswith("work/")
            ]
            check(result, sources_by_name(inside), dest)


_SUFFIX = re.compile(r" \(\d+\)(?=(\.[^/.]*)?$)")


def _unsuffixed(name: str) -> set[str]:
    """Every name ``name`` may have had before suffixes: each component with or without."""
    out = {""}
    for part in name.split("/"):
        options = {part, _SUFFIX.sub("", part)}
        out = {f"{o}/{p}" if o else p for o in out for p in options}
    return out


# Names a Linux directory can really hold.
disk_component = component.filter(
    lambda c: (
        c not in ("", ".", "..")
        and "/" not in c
        and "\x00" not in c
        and len(c.encode("utf-8", "surrogateescape")) <= 255
    )
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(
        st.tuples(
            st.lists(disk_component, min_size=1, max_size=3),
            st.sampled_from(["file", "file", "file", "symlink", "hardlink", "fifo"]),
            st.binary(max_size=300),
        ),
        max_size=15,
    ),
    existing=st.lists(
        st.sampled_from(["report.txt", "data.csv", "caf\u00e9.txt", "a"]), max_size=3
    ),
    overwrite=st.booleans(),
)
def test_directory_trees_never_escape_the_destination(
    entries: list[tuple[list[str], str, bytes]], existing: list[str], overwrite: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "src"
        src.mkdir()
        made: list[Spec] = []
        first_file: Path | None = None
        for parts, kind, data in entries:
            path = src.joinpath(*parts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(path):
                    continue
                if kind == "file":
                    path.write_bytes(data)
                    first_file = first_file or path
                elif kind == "symlink":
                    os.symlink("/etc/passwd", path)
                elif kind == "hardlink" and first_file is not None:
                    os.link(first_file, path)
                elif kind == "fifo":
                    os.mkfifo(path)
                else:
                    continue
            except (OSError, UnicodeEncodeError):
                continue
            made.append(Spec("/".join(parts), kind, data if kind == "file" else b"", ""))
        dest = root / "out"
        dest.mkdir()
        for name in existing:
            (dest / name).write_bytes(b"pre-existing")
        before = snapshot(root, dest)
        pre = {n: (dest / n).read_bytes() for n in existing}
        result = collect(dir_entries(src), dest, LIMITS, overwrite=overwrite)
        event(f"delivered: {min(len(result.artifacts), 3)}")
        assert snapshot(root, dest) == before
        sources = sources_by_name(made)
        for art in result.artifacts:  # suffixed names ("x (1).txt", "d (1)/x") come from "x.txt"
            if art.name not in sources:
                sources[art.name] = set().union(
                    *(sources.get(n, set()) for n in _unsuffixed(art.name))
                )
            if first_file is not None:  # the first name of a hard-linked inode is a plain file
                sources[art.name].add(first_file.read_bytes())
        check(result, sources, dest)
        assert files_in(dest) == {a.name for a in result.artifacts} | set(existing)
        if not overwrite:
            for name, data in pre.items():
                assert (dest / name).read_bytes() == data


# -- sanitize_name --------------------------------------------------------------------------


@given(st.one_of(names, st.text(max_size=60)))
@settings(max_examples=2000)
def test_sanitized_names_are_safe(raw: str) -> None:
    try:
        name = sanitize_name(raw)
    except UnsafeName as exc:
        assert exc.reason
        return
    assert sanitize_name(name) == name  # idempotent
    assert unicodedata.normalize("NFC", name) == name
    assert not name.startswith("/") and "\\" not in name and "\x00" not in name
    parts = name.split("/")
    assert 1 <= len(parts) <= MAX_DEPTH
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert os.path.normpath(name) == name
    for part in parts:
        assert part not in ("", ".", "..") and not part.startswith((".", "-", " "))
        compat = unicodedata.normalize("NFKC", part)
        assert "/" not in compat and "\\" not in compat and compat not in (".", "..")
        for ch in part:
            assert ch in " ._-+,()@" or unicodedata.category(ch)[0] in "LMN"
    base = "/srv/dest"
    assert os.path.realpath(os.path.join(base, name)).startswith(base + "/")


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def _unescape(shown: str) -> str:
    return _ESCAPE.sub(lambda m: "\\" if m[1] == "\\" else chr(int(m[1][1:], 16)), shown)


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_printable_is_printable_bounded_and_reversible(raw: str, limit: int) -> None:
    out = printable(raw, limit)
    assert len(out) <= limit
    assert not any(unicodedata.category(c)[0] in "CZ" and c != " " for c in out)
    surrogates = any(0xD800 <= ord(c) <= 0xDFFF for c in raw)
    if not out.endswith("…") and not surrogates:
        assert _unescape(out) == raw
