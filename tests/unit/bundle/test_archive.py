"""The bundle file format on small synthetic bundles: manifest, verify, tamper, truncation."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from promptkiln.bundle.archive import (
    MANIFEST_NAME,
    Manifest,
    Part,
    describe_parts,
    write_bundle,
)
from promptkiln.bundle.scan import read_manifest, scan
from promptkiln.errors import BundleError

CLI = [sys.executable, "-m", "promptkiln.cli"]


def _parts(tmp: Path) -> list[Part]:
    src = tmp / "src"
    src.mkdir()
    files = {
        "wheels/demo-1.0-py3-none-any.whl": ("wheel", "1.0", b"PK\x03\x04 a wheel" * 100),
        "image/promptkiln-sandbox-abc.tar": ("image", "abc", os.urandom(300_000)),
        "model/tiny.gguf": ("model", "0.2.0", b"GGUF" + bytes(range(256)) * 50),
        "INSTALL.txt": ("doc", "", b"how to install\n"),
    }
    parts = []
    for name, (kind, version, data) in files.items():
        path = src / name.replace("/", "_")
        path.write_bytes(data)
        parts.append(Part(name, kind, version, path))
    return parts


def _bundle(tmp: Path) -> tuple[Path, Manifest, list[Part]]:
    parts = _parts(tmp)
    members = describe_parts(parts)
    manifest = Manifest("0.1.0", "3.11", "linux_x86_64", ("local",), "pk:t", "abc", members)
    out = tmp / "b.tar.gz"
    write_bundle(manifest, parts, out)
    return out, manifest, parts


def _repack(src: Path, dest: Path, change: dict[str, bytes] | None = None,
            drop: str | None = None, add: tuple[str, bytes] | None = None) -> None:  # fmt: skip
    """Rewrite a bundle member by member, changing, dropping or adding one."""
    with tarfile.open(src, "r:gz") as tin, tarfile.open(dest, "w:gz") as tout:
        for info in tin:
            if info.name == drop:
                continue
            fh = tin.extractfile(info)
            assert fh is not None
            data = (change or {}).get(info.name, fh.read())
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
        if add is not None:
            info = tarfile.TarInfo(add[0])
            info.size = len(add[1])
            tout.addfile(info, io.BytesIO(add[1]))


def test_manifest_lists_every_member_with_size_version_and_sha256(tmp_path: Path) -> None:
    out, manifest, parts = _bundle(tmp_path)
    with tarfile.open(out, "r:gz") as tar:
        names = tar.getnames()
        raw = tar.extractfile(MANIFEST_NAME).read()  # type: ignore[union-attr]
    assert names[0] == MANIFEST_NAME
    assert sorted(names[1:]) == sorted(p.name for p in parts)
    data = json.loads(raw)
    assert data["format"] == "promptkiln-bundle/1"
    import hashlib

    for entry, part in zip(data["members"], parts, strict=True):
        body = part.path.read_bytes()
        assert entry["name"] == part.name and entry["version"] == part.version
        assert entry["size"] == len(body)
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert read_manifest(out) == manifest


def test_scan_accepts_a_good_bundle_and_unpacks_it(tmp_path: Path) -> None:
    out, manifest, parts = _bundle(tmp_path)
    assert scan(out) == manifest
    dest = tmp_path / "unpacked"
    dest.mkdir()
    scan(out, dest)
    for part in parts:
        assert (dest / part.name).read_bytes() == part.path.read_bytes()


def test_a_changed_byte_is_named(tmp_path: Path) -> None:
    out, _, parts = _bundle(tmp_path)
    model = next(p for p in parts if p.kind == "model")
    data = bytearray(model.path.read_bytes())
    data[1000] ^= 0x01
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, change={"model/tiny.gguf": bytes(data)})
    with pytest.raises(BundleError) as err:
        scan(bad)
    assert err.value.member == "model/tiny.gguf"
    assert "sha256" in str(err.value)


def test_a_changed_size_is_named(tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, change={"INSTALL.txt": b"how to install, and more\n"})
    with pytest.raises(BundleError) as err:
        scan(bad)
    assert err.value.member == "INSTALL.txt"


def test_a_missing_member_is_named(tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, drop="model/tiny.gguf")
    with pytest.raises(BundleError) as err:
        scan(bad)
    assert err.value.member == "model/tiny.gguf"
    assert "missing" in str(err.value)


def test_an_unlisted_member_is_refused(tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, add=("wheels/evil-1.0-py3-none-any.whl", b"x"))
    with pytest.raises(BundleError) as err:
        scan(bad)
    assert err.value.member == "wheels/evil-1.0-py3-none-any.whl"


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_a_truncated_bundle_names_the_member_it_ends_in(tmp_path: Path, keep: float) -> None:
    out, manifest, _ = _bundle(tmp_path)
    data = out.read_bytes()
    bad = tmp_path / "cut.tar.gz"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(BundleError) as err:
        scan(bad)
    assert err.value.member in {m.name for m in manifest.members} | {MANIFEST_NAME}
    # nothing unpacked is left usable: the caller removes dest; scan never claims success


def test_a_manifest_cannot_name_a_path_outside(tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    with tarfile.open(out, "r:gz") as tar:
        raw = json.loads(tar.extractfile(MANIFEST_NAME).read())  # type: ignore[union-attr]
    raw["members"][0]["name"] = "../escape.whl"
    body = json.dumps(raw).encode()
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, change={MANIFEST_NAME: body})
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(BundleError) as err:
        scan(bad, dest)
    assert err.value.member == MANIFEST_NAME
    assert not (tmp_path / "escape.whl").exists() and not any(dest.iterdir())


def test_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar at all" * 100))
    with pytest.raises(BundleError):
        scan(junk)
    with pytest.raises(BundleError, match="does not exist"):
        scan(tmp_path / "nope.tar.gz")


def test_cli_verify_exit_codes_and_first_bad_member(tmp_path: Path) -> None:
    out, _, parts = _bundle(tmp_path)
    good = subprocess.run([*CLI, "bundle", "verify", str(out)], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert "all 4 members match" in good.stdout
    wheel = next(p for p in parts if p.kind == "wheel")
    data = bytearray(wheel.path.read_bytes())
    data[-1] ^= 0xFF
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, change={wheel.name: bytes(data)})
    proc = subprocess.run([*CLI, "bundle", "verify", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and wheel.name in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_install_refuses_a_tampered_bundle_and_leaves_nothing(tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    bad = tmp_path / "bad.tar.gz"
    _repack(out, bad, change={"INSTALL.txt": b"how to install!\n"})
    target = tmp_path / "target"
    target.mkdir()
    proc = subprocess.run(
        [*CLI, "bundle", "install", str(bad), "--venv", str(target / "venv")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 64, proc.stderr
    assert "INSTALL.txt" in proc.stderr
    assert list(target.iterdir()) == []  # no venv, no staging directory left behind


def test_install_never_overwrites_an_existing_venv(tmp_path: Path) -> None:
    out, _, _ = _bundle(tmp_path)
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / "keep").write_text("mine")
    proc = subprocess.run(
        [*CLI, "bundle", "install", str(out), "--venv", str(venv)], capture_output=True, text=True
    )
    assert proc.returncode == 64, proc.stderr
    assert "already exists" in proc.stderr
    assert [p.name for p in venv.iterdir()] == ["keep"]
