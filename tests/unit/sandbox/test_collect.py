"""Output collection on a real file system: names, kinds, caps, collisions, atomic delivery.

Tar streams are built in memory with tarfile (links, FIFOs and devices included: tarfile writes
their headers without privileges); directory trees are real, made with os.symlink/link/mkfifo and,
as root, mknod. The red-team ``out_*`` scripts' expectations are replayed as archives.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import tarfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkiln.errors import DestinationError, OutputError
from promptkiln.sandbox.base import EntryKind, Limits
from promptkiln.sandbox.collect import (
    DELIVERABLE_EXTENSIONS,
    MAX_DEPTH,
    MAX_LISTED_REJECTIONS,
    CollectResult,
    UnsafeName,
    collect,
    printable,
    sanitize_name,
)
from promptkiln.sandbox.destination import STAGING_PREFIX
from promptkiln.sandbox.direntries import dir_entries
from promptkiln.sandbox.entries import RejectedEntry
from promptkiln.sandbox.tarentries import CorruptArchive, tar_entries

LIMITS = Limits()
ROOT = os.geteuid() == 0


def from_tar(builder: Any, dest: Path, limits: Limits = LIMITS, **kw: Any) -> CollectResult:
    data = builder.bytes()
    chunks = (data[i : i + 3000] for i in range(0, len(data), 3000))
    return collect(
        tar_entries(chunks, max_entries=limits.output_files * 4 + 64), dest, limits, **kw
    )


def delivered(result: CollectResult) -> set[str]:
    return {a.name for a in result.artifacts}


def rejected(result: CollectResult) -> dict[str, str]:
    return {r.name: r.reason for r in result.rejections}


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_safe_delivery(
    result: CollectResult, dest: Path, preexisting: frozenset[str] = frozenset()
) -> None:
    """What every red-team HARNESS CHECK asks of the delivered tree."""
    for art in result.artifacts:
        path = Path(art.path)
        st = path.lstat()
        assert stat.S_ISREG(st.st_mode)
        assert st.st_mode & 0o7777 == 0o644
        assert st.st_uid == os.getuid()
        assert st.st_nlink == 1
        assert os.path.realpath(path).startswith(os.path.realpath(dest) + os.sep)
        assert abs(st.st_mtime - time.time()) < 600
        assert not any(part.startswith(".") for part in Path(art.name).parts)
    for p in dest.rglob("*"):
        if str(p.relative_to(dest)) in preexisting:
            continue
        assert not p.is_symlink()
        assert not p.name.startswith(STAGING_PREFIX)


# -- names ----------------------------------------------------------------------------------

GOOD_NAMES = [
    ("report.pdf", "report.pdf"),
    ("charts/q1/a.json", "charts/q1/a.json"),
    ("résumé 报告.txt", "résumé 报告.txt"),
    ("cafe\u0301.txt", "caf\u00e9.txt"),  # NFD in, NFC out
    ("chart (1).png", "chart (1).png"),
    ("a+b_c-d,e@2x.png", "a+b_c-d,e@2x.png"),
    ("Ünïcödé/Δ/файл.csv", "Ünïcödé/Δ/файл.csv"),
    ("ｆｉｌｅ.txt", "ｆｉｌｅ.txt"),  # full-width letters: NFKC is a harmless "file.txt"
    ("COM10.txt", "COM10.txt"),
    ("console.txt", "console.txt"),
    ("a-.txt", "a-.txt"),
    ("/".join(["d"] * (MAX_DEPTH - 1) + ["f.txt"]), "/".join(["d"] * (MAX_DEPTH - 1) + ["f.txt"])),
    ("A" * 251 + ".txt", "A" * 251 + ".txt"),
]

BAD_NAMES = [
    ("", "empty"),
    ("/etc/passwd", "absolute"),
    ("../x.txt", "'..'"),
    ("a/../../x.txt", "'..'"),
    ("a/./b.txt", "'.'"),
    ("a//b.txt", "empty path component"),
    ("dir/", "empty path component"),
    ("..\\..\\x.txt", "backslash"),
    ("C:x.txt", "drive-letter"),
    ("report.pdf:Zone.Identifier", "':'"),
    ("evil\x1b[31m.txt", "control"),
    ("nul\x00.txt", "control"),
    ("tab\t.txt", "control"),
    ("c1\x9b.txt", "control"),
    ("del\x7f.txt", "control"),
    ("bidi\u202etxt.exe", "invisible"),
    ("iso\u2066.txt", "invisible"),
    ("zw\u200bsp.txt", "invisible"),
    ("lrm\u200e.txt", "invisible"),
    ("bom\ufeff.txt", "invisible"),
    ("nbsp\u00a0.txt", "invisible"),
    ("line\u2028.txt", "invisible"),
    ("private\ue000.txt", "invisible"),
    ("bad-utf8-\udcff.txt", "UTF-8"),
    (".envrc", "hidden"),
    (".git/config", "hidden"),
    ("a/.hidden/b.txt", "hidden"),
    ("...", "hidden"),
    ("-rf.txt", "'-'"),
    ("--checkpoint=1", "="),
    (" lead.txt", "starts with a space"),
    ("report.txt.", "ends with a dot"),
    ("report.txt ", "ends with a dot or a space"),
    ("CON", "reserved"),
    ("nul.txt", "reserved"),
    ("Com1.pdf", "reserved"),
    ("lpt².csv", "reserved"),
    ("AUX .png", "reserved"),
    ("aux.tar.gz", "reserved"),
    ("$(touch X).png", "'$'"),
    ("`touch X`.png", "'`'"),
    ("a;b.csv", "';'"),
    ("x'y.txt", '"\'"'),
    ('a"b.html', "'\"'"),
    ("<img>.png", "'<'"),
    ("{{7*7}}.txt", "'{'"),
    ("%2e%2e%2fx.txt", "'%'"),
    ("a|b.txt", "'|'"),
    ("a&b.txt", "'&'"),
    ("what?.txt", "'?'"),
    ("star*.txt", "'*'"),
    ("\uff0e\uff0e\uff0fx.txt", "not allowed"),  # full-width "../"
    ("\u2025\u2215x.txt", "not allowed"),  # two-dot leader, division slash
    ("½.txt", "look-alike"),  # NFKC 1⁄2
    ("/".join(["d"] * MAX_DEPTH + ["f.txt"]), "nested too deeply"),
    ("A" * 256 + ".txt", "too long"),
    ("/".join(["L" * 200] * 6), "path too long"),
]


@pytest.mark.parametrize(("raw", "expected"), GOOD_NAMES)
def test_sanitize_accepts(raw: str, expected: str) -> None:
    assert sanitize_name(raw) == expected


@pytest.mark.parametrize(("raw", "why"), BAD_NAMES, ids=[printable(r, 40) for r, _ in BAD_NAMES])
def test_sanitize_rejects_with_a_reason(raw: str, why: str) -> None:
    with pytest.raises(UnsafeName) as info:
        sanitize_name(raw)
    assert why in info.value.reason
    for text in (info.value.reason, str(info.value)):  # reasons are printable too
        assert not any(unicodedata.category(c)[0] in "CZ" and c != " " for c in text)


# -- printable ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain.txt", "plain.txt"),
        ("résumé 报告", "résumé 报告"),
        ("evil\x1b[31m", "evil\\x1b[31m"),
        ("bell\x07", "bell\\x07"),
        ("c1\x9b", "c1\\x9b"),
        ("del\x7f", "del\\x7f"),
        ("nl\nx", "nl\\x0ax"),
        ("bidi\u202eexe.txt", "bidi\\u202eexe.txt"),
        ("\u2066\u2069\u200e\u200f\u200b", "\\u2066\\u2069\\u200e\\u200f\\u200b"),
        ("back\\slash", "back\\\\slash"),
        ("raw\udcff", "raw\\xff"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("nbsp\u00a0", "nbsp\\u00a0"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_printable_truncates_without_splitting_an_escape() -> None:
    assert printable("a" * 300) == "a" * 199 + "…"
    assert len(printable("x" * 100_000)) == 200
    out = printable("\x1b" * 100, limit=10)
    assert out == "\\x1b\\x1b…"
    assert printable("abc", limit=3) == "abc"


# -- kinds and the red-team cases, as archives ---------------------------------------------


def test_out_01_symlinks_are_rejected_and_nothing_is_read(tar: Any, dest: Path) -> None:
    b = tar().file("report.txt", b"REDTEAM-BENIGN report\n")
    links = {
        "passwd.txt": "/etc/passwd",
        "environ.txt": "/proc/self/environ",
        "ssh_keys": "/root/.ssh",
        "home_dir": "/home",
        "host_root": "/",
        "canary.txt": "/tmp/REDTEAM_HOST_CANARY.txt",
    }
    for name, target in links.items():
        b.add(name, None, type=tarfile.SYMTYPE, linkname=target)
    result = from_tar(b, dest)
    assert delivered(result) == {"report.txt"}
    assert set(rejected(result)) == set(links)
    assert all("symbolic link" in r for r in rejected(result).values())
    assert_safe_delivery(result, dest)


def test_out_03_hardlink_entries_are_rejected(tar: Any, dest: Path) -> None:
    b = (
        tar()
        .file("a.txt", b"REDTEAM-BENIGN a\n")
        .add("b.txt", None, type=tarfile.LNKTYPE, linkname="work/a.txt")
        .add("passwd_hl.txt", None, type=tarfile.LNKTYPE, linkname="etc/passwd")
    )
    result = from_tar(b, dest)
    assert delivered(result) == {"a.txt"}
    assert set(rejected(result)) == {"b.txt", "passwd_hl.txt"}
    assert "hard link" in rejected(result)["b.txt"]
    assert_safe_delivery(result, dest)


def test_out_04_fifo_socket_devices_rejected(tar: Any, dest: Path) -> None:
    b = (
        tar()
        .file("ok.txt", b"REDTEAM-BENIGN ok\n")
        .add("report.pdf", None, type=tarfile.FIFOTYPE)
        .add("data.xlsx", None, type=tarfile.CHRTYPE, devmajor=1, devminor=5)
        .add("null.csv", None, type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        .add("disk.png", None, type=tarfile.BLKTYPE, devmajor=8, devminor=0)
        .add("vol.txt", None, type=b"V")
    )
    result = from_tar(b, dest)
    assert delivered(result) == {"ok.txt"}
    reasons = rejected(result)
    assert set(reasons) == {"report.pdf", "data.xlsx", "null.csv", "disk.png", "vol.txt"}
    assert "FIFO" in reasons["report.pdf"] and "character device" in reasons["data.xlsx"]
    assert "block device" in reasons["disk.png"] and "not a regular file" in reasons["vol.txt"]
    assert tree(dest) == {"ok.txt"}


def test_out_05_modes_are_plain(tar: Any, dest: Path) -> None:
    b = (
        tar()
        .file("tool.txt", b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0)
        .file("group.txt", b"x", mode=0o2755)
        .file("world_writable.txt", b"x", mode=0o666)
        .file("report.pdf", b"%PDF-1.4\n", mode=0o755)
        .file("future.txt", b"x", mtime=4102444800)
        .add("sgid_dir", None, type=tarfile.DIRTYPE, mode=0o3777)
        .file("sgid_dir/in.txt", b"x", mode=0o7777)
    )
    result = from_tar(b, dest)
    assert len(result.artifacts) == 6 and result.rejections == []
    assert_safe_delivery(result, dest)
    assert (dest / "sgid_dir").stat().st_mode & 0o7000 == 0


def test_out_05_modes_ignore_the_umask(tar: Any, dest: Path) -> None:
    old = os.umask(0o077)
    try:
        result = from_tar(tar().file("a.txt"), dest)
    finally:
        os.umask(old)
    assert Path(result.artifacts[0].path).stat().st_mode & 0o777 == 0o644


OUT_06_NAMES = [
    "..\\..\\..\\REDTEAM_BACKSLASH_TRAVERSAL_CANARY.txt",
    "C:..\\REDTEAM_DRIVE_RELATIVE_CANARY.txt",
    "\\\\?\\C:\\REDTEAM_UNC_CANARY.txt",
    "report.pdf:Zone.Identifier",
    "CON",
    "NUL.txt",
    "COM1.pdf",
    "aux.png",
    "LPT1.csv",
    "report.txt.",
    "report.txt ",
    "Report.TXT",
    "caf\u00e9.txt",
    "cafe\u0301.txt",
    "\uff0e\uff0e\uff0fREDTEAM_NFKC_CANARY.txt",
    "\u2025\u2215REDTEAM_LOOKALIKE.txt",
    "%2e%2e%2fREDTEAM_URLDECODE_CANARY.txt",
    "..%5c..%5cREDTEAM_URLDECODE_BS_CANARY.txt",
    "-rf",
    "--help",
    "--checkpoint=1",
    "--checkpoint-action=exec=touch REDTEAM_TAR_ARGV_CANARY",
    "$(touch REDTEAM_SHELL_SUBST_CANARY).png",
    "`touch REDTEAM_BACKTICK_CANARY`.png",
    "a;touch REDTEAM_SEMICOLON_CANARY;.csv",
    "x' ; touch REDTEAM_QUOTE_CANARY ; '.txt",
    "<img src=x onerror=alert(document.domain)>.png",
    'a"; filename="evil.html',
    "{{7*7}}${7*7}.txt",
    "...",
    " ",
    "-",
    "A" * 255,
    ("\u00e9" * 127) + "x",
]


def _check_out_06(result: CollectResult, dest: Path) -> None:
    # report.txt wins its case collision and café.txt (already NFC) wins its NFD twin; every
    # other hostile name is rejected with its own reason, none delivered under another name.
    assert delivered(result) == {"report.txt", "caf\u00e9.txt"}
    assert len(result.rejections) == len(OUT_06_NAMES) - 1
    assert (dest / "report.txt").read_bytes() == b"the real report\n"
    assert (dest / "caf\u00e9.txt").read_bytes() == "payload 'café.txt'\n".encode()
    reasons = rejected(result)
    assert "once Unicode-normalised" in reasons["cafe\u0301.txt"]
    assert "apart from letter case" in reasons["Report.TXT"]
    assert not list(dest.parent.rglob("*CANARY*"))
    for r in result.rejections:
        assert printable(r.name) == r.name.replace("\\\\", "\\") or "\\" in r.name
        assert len(r.name) <= 200
    assert_safe_delivery(result, dest)


def test_out_06_traversal_names_from_an_archive(tar: Any, dest: Path, tmp_path: Path) -> None:
    b = tar().file("report.txt", b"the real report\n")
    for name in OUT_06_NAMES:
        b.file(name, f"payload {name!r}\n".encode())
    _check_out_06(from_tar(b, dest), dest)


def test_out_06_traversal_names_from_a_directory(tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.txt").write_bytes(b"the real report\n")
    for name in OUT_06_NAMES:
        Path(src, name).write_bytes(f"payload {name!r}\n".encode())
    _check_out_06(collect(dir_entries(src), dest, LIMITS), dest)


def test_out_08_deep_trees_are_rejected_and_report_delivered(tar: Any, dest: Path) -> None:
    b = tar()
    deep = "d/" * 1500
    b.dir(deep.rstrip("/")).file(deep + "bottom.txt", b"bottom")
    longp = ("L" * 250 + "/") * 20
    b.file(longp + "bottom.txt", b"bottom")
    b.file("report.txt", b"REDTEAM-BENIGN report\n")
    start = time.monotonic()
    result = from_tar(b, dest)
    assert time.monotonic() - start < 10
    assert delivered(result) == {"report.txt"}
    reasons = list(rejected(result).values())
    assert len(reasons) == 2 and all("nested too deeply" in r for r in reasons)
    assert all(len(r.name) <= 200 for r in result.rejections)


def test_out_08_deep_real_tree(tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.txt").write_text("REDTEAM-BENIGN report\n")
    for name, depth in (("d", 200), ("L" * 250, 20)):
        fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        os.close(fd)
    result = collect(dir_entries(src), dest, LIMITS)
    assert delivered(result) == {"report.txt"}
    assert any("nested too deeply" in r for r in rejected(result).values())


def test_out_09_many_small_files(tar: Any, dest: Path) -> None:
    b = tar().dir("many")
    for i in range(10_000):
        b.file(f"many/f{i:05d}.txt", b"x")
    for d in range(100):
        b.dir(f"many/dir{d:03d}").file(f"many/dir{d:03d}/g.txt", b"y")
    start = time.monotonic()
    result = from_tar(b, dest)
    assert time.monotonic() - start < 30
    assert len(result.artifacts) == LIMITS.output_files
    assert len(list((dest / "many").iterdir())) == LIMITS.output_files
    assert len(result.rejections) == MAX_LISTED_REJECTIONS + 1
    assert "too many files" in result.rejections[0].reason
    summary = result.rejections[-1]
    assert summary.name.startswith("(and ") and "too many" in summary.reason


def test_too_many_entries_stops_reading(tar: Any, dest: Path) -> None:
    b = tar()
    for i in range(50):
        b.file(f"f{i:02d}.txt", b"x")
    data = b.bytes()
    result = collect(tar_entries([data], max_entries=10), dest, LIMITS)
    assert len(result.artifacts) == 10
    assert "too many entries" in result.rejections[-1].reason


OUT_13_FILES = {
    ".vscode/tasks.json": '{"tasks": [{"command": "touch REDTEAM"}]}',
    ".envrc": "touch REDTEAM_DIRENV_CANARY\n",
    ".git/config": "[core]\n\tfsmonitor = touch REDTEAM_GIT_FSMONITOR_CANARY\n",
    ".git/HEAD": "ref: refs/heads/main\n",
    ".idea/workspace.xml": "<project/>\n",
    "autorun.inf": "[autorun]\nopen=REDTEAM_AUTORUN.exe\n",
    "desktop.ini": "[.ShellClassInfo]\n",
    "report.desktop": "[Desktop Entry]\nExec=touch REDTEAM_DESKTOP_CANARY\n",
    "Makefile": "all:\n\ttouch REDTEAM_MAKE_CANARY\n",
    ".bashrc": "touch REDTEAM_BASHRC_CANARY\n",
    "sitecustomize.py": "open('REDTEAM_SITECUSTOMIZE_CANARY', 'w').close()\n",
    "report.pdf.lnk": "REDTEAM not a real shortcut\n",
    "budget.xlsm": "REDTEAM macro-enabled extension\n",
}


def test_out_13_dotfiles_and_autorun_files(tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.txt").write_text("REDTEAM-BENIGN report\n")
    for rel, body in OUT_13_FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(body)
    result = collect(dir_entries(src), dest, LIMITS)
    assert delivered(result) == {"report.txt"}
    assert tree(dest) == {"report.txt"}
    assert set(rejected(result)) == set(OUT_13_FILES)
    assert "hidden" in rejected(result)[".git/config"]
    assert "'.py'" in rejected(result)["sitecustomize.py"]
    assert "no file extension" in rejected(result)["Makefile"]


def test_out_15_content_is_typed_by_content(tar: Any, dest: Path) -> None:
    html = b"<!doctype html><title>Report</title><script>fetch('x')</script>\n"
    b = (
        tar()
        .file("report.csv", b'name,amount\nAlice,"=HYPERLINK(""https://example.invalid"")"\n')
        .file("report.html", html)
        .file("chart.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')
        .file("summary.md", b"# Summary\n\n![c](https://example.invalid/p.png)\n")
        .file("report.pdf", b"%PDF-1.4\n1 0 obj<</OpenAction 4 0 R>>endobj\n%%EOF\n")
        .file("invoice.pdf", html)
    )
    result = from_tar(b, dest)
    types = {a.name: a.media_type for a in result.artifacts}
    assert types == {
        "report.csv": "text/csv",
        "report.html": "text/html",
        "chart.svg": "image/svg+xml",
        "summary.md": "text/markdown",
        "report.pdf": "application/pdf",
        "invoice.pdf": "text/html",
    }


def test_disk_01_oversized_file_rejected_by_size_not_truncated(tar: Any, dest: Path) -> None:
    limits = Limits(output_file_bytes=1000, output_bytes=10_000)
    b = tar().file("fill.bin", os.urandom(5000)).file("big.txt", b"x" * 1001)
    b.file("ok.txt", b"x" * 1000)
    result = from_tar(b, dest, limits)
    reasons = rejected(result)
    assert "too large" in reasons["fill.bin"] and "'.bin'" in reasons["fill.bin"]
    assert "too large" in reasons["big.txt"]
    assert delivered(result) == {"ok.txt"}
    assert tree(dest) == {"ok.txt"}


def test_claimed_size_lies_are_caught_by_reading(dest: Path) -> None:
    class Liar:
        raw_name = "small.txt"
        kind = EntryKind.FILE
        size = 1
        mode = 0o644

        def read(self, limit: int) -> bytes:
            return b"y" * (limit + 1)

    result = collect([Liar()], dest, Limits(output_file_bytes=100))
    assert result.artifacts == [] and "too large" in result.rejections[0].reason
    assert not dest.exists()


def test_total_cap_rejects_later_files(tar: Any, dest: Path) -> None:
    limits = Limits(output_file_bytes=100, output_bytes=250)
    b = tar().file("a.txt", b"a" * 100).file("b.txt", b"b" * 100).file("c.txt", b"c" * 100)
    b.file("d.txt", b"d" * 50)
    result = from_tar(b, dest, limits)
    assert delivered(result) == {"a.txt", "b.txt", "d.txt"}
    assert "total output limit" in rejected(result)["c.txt"]


def test_entries_outside_the_prefix_and_inputs(tar: Any, dest: Path) -> None:
    b = tar().file("ok.txt", b"x").file("inputs/in.csv", b"a,b\n").dir("inputs")
    b.add("etc/passwd", b"root:x", raw=True).add("/abs.txt", b"x", raw=True)
    b.add("work/../escape.txt", b"x", raw=True).add("work/..", None, type=tarfile.DIRTYPE, raw=True)
    result = from_tar(b, dest)
    assert delivered(result) == {"ok.txt"}
    reasons = rejected(result)
    assert reasons["etc/passwd"] == "outside the working directory"
    assert "'..'" in reasons["../escape.txt"]
    assert tree(dest) == {"ok.txt"}


def test_hostile_archive_metadata(tar: Any, dest: Path) -> None:
    b = tar()
    b.file("n" * 100_000 + ".txt", b"long name")
    b.file("nul\x00name.txt", b"x")
    b.file("pax.txt", b"x", pax_headers={"comment": "c" * 500_000})
    b.add("sparse.txt", b"", type=tarfile.GNUTYPE_SPARSE)
    b.file("ok.txt", b"fine")
    result = from_tar(b, dest)
    assert delivered(result) == {"ok.txt", "pax.txt"}
    reasons = rejected(result)
    assert any("too long" in r for r in reasons.values())
    assert "not a regular file" in reasons["sparse.txt"]
    assert all(len(name) <= 200 for name in reasons)


def test_huge_pax_header_is_refused_before_it_is_read(tar: Any, dest: Path) -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 10 << 30  # 10 GiB of "metadata", never sent
    stream = iter([header.tobuf(format=tarfile.GNU_FORMAT)] + [b"\0" * 512] * 4)
    with pytest.raises(CorruptArchive, match="metadata header"):
        collect(tar_entries(stream, max_entries=10), dest, LIMITS)
    assert not dest.exists()


@pytest.mark.parametrize("cut", [100, 600, 1500, 3000])
def test_truncated_stream_is_a_clear_error_and_nothing_is_left(
    tar: Any, dest: Path, cut: int
) -> None:
    data = tar().file("a.txt", b"a" * 1000).file("b.txt", b"b" * 2000).bytes()
    with pytest.raises(OutputError) as info:
        collect(tar_entries([data[:cut]], max_entries=10), dest, LIMITS)
    assert "truncated" in str(info.value) or "ends" in str(info.value)
    assert not dest.exists()


def test_huge_claimed_size_then_truncation(dest: Path) -> None:
    info = tarfile.TarInfo("work/big.txt")
    info.size = 100 << 20  # claims 100 MiB, sends 1 KiB
    stream = [info.tobuf(format=tarfile.PAX_FORMAT), b"x" * 1024]
    start = time.monotonic()
    with pytest.raises(CorruptArchive):
        collect(tar_entries(stream, max_entries=10), dest, LIMITS)
    assert time.monotonic() - start < 5
    assert not dest.exists()


def test_absurd_claimed_size_is_refused(dest: Path) -> None:
    info = tarfile.TarInfo("work/big.txt")
    info.size = 1 << 60
    stream = [info.tobuf(format=tarfile.GNU_FORMAT)]
    with pytest.raises(CorruptArchive):
        collect(tar_entries(stream, max_entries=10), dest, LIMITS)


@pytest.mark.parametrize("data", [b"", b"not a tar at all" * 100, os.urandom(5000)])
def test_empty_or_garbage_streams(data: bytes, dest: Path) -> None:
    if not data:
        assert collect(tar_entries([data], max_entries=10), dest, LIMITS) == CollectResult()
        return
    with pytest.raises(CorruptArchive):
        collect(tar_entries([data], max_entries=10), dest, LIMITS)


def test_tar_entry_is_readable_only_while_current(tar: Any) -> None:
    data = tar().file("a.txt", b"aaa").file("b.txt", b"bbb").bytes()
    it = tar_entries([data], max_entries=10)
    first = next(it)
    assert first.read(10) == b"aaa"
    second = next(it)
    with pytest.raises(RuntimeError, match="no longer current"):
        first.read(10)
    assert second.raw_name == "b.txt"
    assert second.read(1) == b"bb"  # limit + 1 bytes, so over-size is visible


# -- real directories -----------------------------------------------------------------------


def test_dir_entries_kinds_without_hanging(tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("ok\n")
    (src / "a.txt").write_text("REDTEAM-BENIGN a\n")
    os.link(src / "a.txt", src / "b.txt")
    os.symlink("/etc/passwd", src / "passwd.txt")
    os.symlink("/", src / "host_root")
    os.mkfifo(src / "report.pdf")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(src / "chart.png"))
    sock.close()
    if ROOT:
        os.mknod(src / "data.xlsx", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    (src / "inputs").mkdir()
    (src / "inputs" / "in.csv").write_text("a\n")
    done: list[CollectResult] = []
    worker = threading.Thread(target=lambda: done.append(collect(dir_entries(src), dest, LIMITS)))
    worker.start()
    worker.join(10)
    assert done, "collection hung"
    result = done[0]
    assert delivered(result) == {"ok.txt", "a.txt"}
    reasons = rejected(result)
    expected = {"b.txt", "passwd.txt", "host_root", "report.pdf", "chart.png"}
    assert set(reasons) == expected | ({"data.xlsx"} if ROOT else set())
    assert "socket" in reasons["chart.png"] and "hard link" in reasons["b.txt"]
    assert_safe_delivery(result, dest)


def test_dir_entry_swapped_for_a_fifo_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("x")
    (entry,) = list(dir_entries(src))
    # dir_entries entries are read while current; this one is read after a swap.
    it = dir_entries(src)
    entry = next(it)
    (src / "a.txt").unlink()
    os.mkfifo(src / "a.txt")
    with pytest.raises(OutputError, match="changed"):
        entry.read(10)
    it.close()


def test_dir_entries_root_must_not_be_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(OutputError):
        list(dir_entries(tmp_path / "link"))


# -- destination ----------------------------------------------------------------------------


def test_creates_dest_and_parents(tar: Any, tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "c"
    result = from_tar(tar().file("x/y.txt", b"hi"), dest)
    assert (dest / "x" / "y.txt").read_bytes() == b"hi"
    art = result.artifacts[0]
    assert art.path == str(dest / "x" / "y.txt") and art.size == 2 and art.name == "x/y.txt"
    import hashlib

    assert art.sha256 == hashlib.sha256(b"hi").hexdigest()


def test_nothing_delivered_leaves_no_new_directory(tar: Any, dest: Path) -> None:
    result = from_tar(tar().add("l.txt", None, type=tarfile.SYMTYPE, linkname="/"), dest)
    assert result.artifacts == [] and len(result.rejections) == 1
    assert not dest.exists() and not dest.parent.exists()


def test_existing_files_are_kept_and_new_ones_suffixed(tar: Any, dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "chart.png").write_bytes(b"old")
    (dest / "chart (1).png").write_bytes(b"old1")
    (dest / "data").write_bytes(b"old-no-ext")
    b = tar().file("chart.png", b"new").file("chart (2).png", b"new2").file("notes.txt", b"n")
    result = from_tar(b, dest)
    names = {a.name: Path(a.path).read_bytes() for a in result.artifacts}
    # chart (2).png is an output of its own, so chart.png skips that suffix too
    assert names == {"chart (3).png": b"new", "chart (2).png": b"new2", "notes.txt": b"n"}
    assert (dest / "chart.png").read_bytes() == b"old"
    assert (dest / "chart (1).png").read_bytes() == b"old1"


def test_overwrite_replaces_files_and_links_but_never_follows(
    tar: Any, dest: Path, tmp_path: Path
) -> None:
    dest.mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious")
    (dest / "a.txt").write_bytes(b"old")
    os.symlink(outside, dest / "b.txt")
    (dest / "c.txt").mkdir()
    b = tar().file("a.txt", b"new-a").file("b.txt", b"new-b").file("c.txt", b"new-c")
    result = from_tar(b, dest, overwrite=True)
    assert delivered(result) == {"a.txt", "b.txt", "c (1).txt"}
    assert (dest / "a.txt").read_bytes() == b"new-a"
    assert not (dest / "b.txt").is_symlink() and (dest / "b.txt").read_bytes() == b"new-b"
    assert outside.read_bytes() == b"precious"
    assert tree(dest) == {"a.txt", "b.txt", "c.txt", "c (1).txt"}


def test_existing_dangling_symlink_is_not_followed(tar: Any, dest: Path, tmp_path: Path) -> None:
    dest.mkdir(parents=True)
    target = tmp_path / "elsewhere.txt"
    os.symlink(target, dest / "a.txt")
    result = from_tar(tar().file("a.txt", b"x"), dest)
    assert delivered(result) == {"a (1).txt"}
    assert not target.exists()


def test_dest_symlink_is_refused(tar: Any, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "out")
    with pytest.raises(DestinationError, match="symbolic link") as info:
        from_tar(tar().file("a.txt"), tmp_path / "out")
    assert info.value.path == str(tmp_path / "out")
    assert list((tmp_path / "real").iterdir()) == []


def test_dest_is_a_file(tar: Any, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(DestinationError, match="not a directory"):
        from_tar(tar().file("a.txt"), tmp_path / "out")


def test_links_and_files_in_the_way_of_directories_are_never_written_through(
    tar: Any, dest: Path, tmp_path: Path
) -> None:
    dest.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, dest / "charts")
    (dest / "data").write_text("a file where a directory is wanted")
    b = tar().file("charts/c.png", b"c").file("charts/d.png", b"d").file("data/x.csv", b"x")
    b.file("charts (1)/e.png", b"e")  # an output of its own: the suffix skips it
    result = from_tar(b, dest)
    assert delivered(result) == {
        "charts (2)/c.png",
        "charts (2)/d.png",
        "data (1)/x.csv",
        "charts (1)/e.png",
    }
    assert list(outside.iterdir()) == []
    assert (dest / "data").read_text() == "a file where a directory is wanted"
    assert_safe_delivery(result, dest, preexisting=frozenset({"charts"}))


def test_collisions_within_the_output(tar: Any, dest: Path) -> None:
    b = (
        tar()
        .file("Data.csv", b"upper")
        .file("data.csv", b"lower")
        .file("DATA.CSV", b"shout")
        .file("dir.txt/x.txt", b"x")
        .file("DIR.TXT", b"file named like the dir")
        .file("f.csv", b"file")
        .file("F.CSV/inner.txt", b"nested")
    )
    result = from_tar(b, dest)
    assert delivered(result) == {"data.csv", "dir.txt/x.txt", "f.csv"}
    reasons = rejected(result)
    assert "same name as data.csv apart from letter case" in reasons["Data.csv"]
    assert "same name as data.csv apart from letter case" in reasons["DATA.CSV"]
    assert "directory" in reasons["DIR.TXT"] and "directory" in reasons["F.CSV/inner.txt"]
    assert (dest / "data.csv").read_bytes() == b"lower"


def test_rollback_on_keyboard_interrupt(tar: Any, dest: Path) -> None:
    dest.mkdir(parents=True)
    (dest / "mine.txt").write_text("mine")
    data = tar().file("a.txt", b"a").file("b.txt", b"b").bytes()

    def entries() -> Iterator[Any]:
        yield from tar_entries([data], max_entries=10)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect(entries(), dest, LIMITS)
    assert tree(dest) == {"mine.txt"}


def test_extensions_can_be_widened(tar: Any, dest: Path) -> None:
    b = tar().file("script.py", b"print(1)\n").file(".hidden.py", b"x")
    result = from_tar(b, dest, extensions={*DELIVERABLE_EXTENSIONS, ".PY"})
    assert delivered(result) == {"script.py"}
    assert "hidden" in rejected(result)[".hidden.py"]


def test_rejected_entry_reasons_pass_through(dest: Path) -> None:
    result = collect([RejectedEntry("x/\x1b", "too deep")], dest, LIMITS)
    assert result.rejections[0].name == "x/\\x1b" and result.rejections[0].reason == "too deep"


# -- file system failures (root: tmpfs mounts) ----------------------------------------------


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    if not ROOT:
        pytest.skip("mounting a tmpfs needs root")
    mounted: list[Path] = []

    def do(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True)
        mounted.append(point)
        return point

    yield do
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_disk_full_is_a_destination_error_and_nothing_is_left(tar: Any, mount: Any) -> None:
    point = mount("size=1m,mode=0755")
    (point / "mine.txt").write_text("mine")
    b = tar().file("a.txt", b"a" * 300_000).file("b.txt", os.urandom(900_000))
    with pytest.raises(DestinationError) as info:
        from_tar(b, point / "out")
    assert "no space left" in info.value.message
    assert "free at least 2 MB or choose another --out" in (info.value.hint or "")
    assert tree(point) == {"mine.txt"}


def _then_fill_inodes(entries: Iterator[Any], filler: Path, spare: int) -> Iterator[Any]:
    """Yield the entries, then use up the file system's inodes but ``spare``: placing starts
    right after the last entry, so it fails part-way, with earlier files already in place."""
    yield from entries
    filler.mkdir()
    made = []
    try:
        for i in range(100_000):
            filler.joinpath(str(i)).touch()
            made.append(filler / str(i))
    except OSError:
        pass
    for path in made[len(made) - spare :] if spare else []:
        path.unlink()


def test_rollback_when_placing_fails_midway(tar: Any, mount: Any) -> None:
    point = mount("size=1m,nr_inodes=64")
    dest = point / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("mine")
    data = tar().file("a.txt", b"a").file("b/c.txt", b"c").bytes()
    # a.txt takes the one spare inode (a tmpfs link does), then mkdir b fails
    entries = _then_fill_inodes(tar_entries([data], max_entries=9), point / "f", spare=1)
    with pytest.raises(DestinationError, match="no space left"):
        collect(entries, dest, LIMITS)
    assert tree(dest) == {"mine.txt"}


def test_rollback_restores_overwritten_files(tar: Any, mount: Any) -> None:
    point = mount("size=1m,nr_inodes=64")
    dest = point / "out"
    dest.mkdir()
    (dest / "a.txt").write_text("old a")
    data = tar().file("a.txt", b"new").file("z/c.txt", b"c").bytes()
    entries = _then_fill_inodes(tar_entries([data], max_entries=9), point / "f", spare=0)
    with pytest.raises(DestinationError):
        collect(entries, dest, LIMITS, overwrite=True)
    assert (dest / "a.txt").read_text() == "old a"
    assert tree(dest) == {"a.txt"}


def test_read_only_destination(tar: Any, mount: Any) -> None:
    point = mount("size=1m,ro")
    with pytest.raises(DestinationError, match="read-only"):
        from_tar(tar().file("a.txt"), point / "out")
    with pytest.raises(DestinationError, match="read-only"):
        from_tar(tar().file("a.txt"), point)


def test_unicode_names_survive_normalisation(tar: Any, dest: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Ångström/résumé.txt")
    result = from_tar(tar().file(nfd, b"x"), dest)
    assert delivered(result) == {"Ångström/résumé.txt"}
    assert (dest / "Ångström" / "résumé.txt").exists()


def test_sparse_maps_that_continue_in_the_stream_are_refused(dest: Path) -> None:
    info = tarfile.TarInfo("work/s.txt")
    info.type = tarfile.GNUTYPE_SPARSE
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    header[482] = 1  # "isextended": more sparse headers follow, as many as the stream holds
    header[148:156] = b"        "
    header[148:156] = b"%06o\0 " % sum(header[:512])
    with pytest.raises(CorruptArchive, match="sparse"):
        collect(tar_entries([bytes(header) + b"\n" * 100_000], max_entries=5), dest, LIMITS)
    pax = tarfile.TarInfo("work/p.txt")
    pax.size = 512
    pax.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.realsize": "10",
    }
    data = pax.tobuf(format=tarfile.PAX_FORMAT) + b"999999999999\n" + b"\n" * 499 + bytes(1024)
    with pytest.raises(CorruptArchive, match="sparse"):
        collect(tar_entries([data], max_entries=5), dest, LIMITS)
    assert not dest.exists()
