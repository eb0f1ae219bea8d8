"""The image's Python stack: the exact pins of ``images/requirements.txt`` downloaded by the host
as manylinux cp311 x86_64 wheels, cached by the hash of the lists."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from promptkiln.image.status import digest
from promptkiln.image.steps import Progress, prune_older, run_step

PIP_PLATFORM_ARGS = (
    "--only-binary=:all:",
    "--implementation=cp",
    "--python-version=3.11",
    "--abi=cp311",
    "--abi=abi3",
    "--abi=none",
    "--platform=manylinux2014_x86_64",
    "--platform=manylinux_2_17_x86_64",
    "--platform=manylinux_2_28_x86_64",
    "--platform=any",
)


def ensure_wheelhouse(directory: Path, cache: Path, progress: Progress) -> Path:
    lists = [directory / "requirements.txt", directory / "build-requirements.txt"]
    wheelhouse = cache / f"wheelhouse-cp311-{digest(lists)}"
    if (wheelhouse / ".complete").is_file():
        progress(f"wheelhouse {wheelhouse.name} is cached")
        return wheelhouse
    partial = wheelhouse.with_name(wheelhouse.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    progress("pip download: the pinned wheels for the image (manylinux, cp311, x86_64)")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar=off",
        *PIP_PLATFORM_ARGS,
        "--dest",
        str(partial),
    ]
    for requirements in lists:
        command += ["-r", str(requirements)]
    run_step(command, progress, "pip download")
    (partial / ".complete").write_text("")
    shutil.rmtree(wheelhouse, ignore_errors=True)
    partial.rename(wheelhouse)
    prune_older(wheelhouse)
    return wheelhouse
