"""Check delivered files by re-opening each one with its own library.

The files come from an untrusted script, and these checks run on the host, so every check runs
in a short-lived child process (``python -I`` on this file) with a wall-clock timeout, a CPU-time
limit and an address-space limit; inside it, zip containers are measured before they are opened,
Pillow's decompression-bomb guard is tightened, XML that declares entities is refused before
parsing, and every exception becomes a one-line problem. Nothing raised by a document library
ever reaches the caller.

    validate(path, media_type, expected_format) -> ["is not a complete PDF (...)"]
    missing_formats(artifacts, ["pdf", "png"]) -> ["png"]

The checks themselves, and their limits, are :mod:`promptkiln.checks.file_checks`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptkiln.checks import file_checks
from promptkiln.checks.file_checks import TIMEOUT_S, one_line

if TYPE_CHECKING:
    from promptkiln.sandbox.base import Artifact


ALIASES = {
    "jpeg": "jpg",
    "htm": "html",
    "markdown": "md",
    "text": "txt",
    "yml": "yaml",
    "tif": "tiff",
}
_BY_MEDIA_TYPE = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/svg+xml": "svg",
    "text/csv": "csv",
    "application/json": "json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}


def normalize(fmt: str) -> str:
    """``".JPEG"`` -> ``"jpg"``."""
    name = fmt.strip().lower().lstrip(".")
    return ALIASES.get(name, name)


def _kind_for(path: Path, media_type: str, expected_format: str | None) -> str:
    if expected_format:
        return normalize(expected_format)
    if path.suffix:
        return normalize(path.suffix)
    return _BY_MEDIA_TYPE.get(media_type.split(";")[0].strip().lower(), "")


def validate(
    path: Path,
    media_type: str,
    expected_format: str | None = None,
    *,
    timeout_s: float = TIMEOUT_S,
) -> list[str]:
    """Problems with one delivered file; an empty list means it opened fine.

    Each problem is one line that reads after the file's name (``"is not a PDF (...)"``): the
    caller prefixes the name it shows the user (see :func:`validate_all`).

    ``expected_format`` (``"pdf"``, ``"xlsx"``...) picks the check; when None, the file's
    extension does, then ``media_type``. The check runs in a child process bounded by
    ``timeout_s`` **seconds** and :data:`~promptkiln.checks.file_checks.MEMORY_BYTES`.
    """
    path = Path(path)
    kind = _kind_for(path, media_type, expected_format)
    try:
        done = subprocess.run(
            [sys.executable, "-I", file_checks.__file__, str(path), kind],
            capture_output=True,
            timeout=timeout_s,
            check=False,
            env=_child_env(),
        )
    except subprocess.TimeoutExpired:
        return [f"checking it took longer than {timeout_s:g} s; it may be malformed"]
    except OSError as exc:
        return [one_line(f"could not be checked ({exc})")]
    if done.returncode != 0:
        if done.returncode < 0:
            why = f"the checker was killed by signal {-done.returncode}"
        else:
            why = f"the checker failed ({done.stderr.decode(errors='replace')[-200:]})"
        return [one_line(f"could not be checked: {why}; it may be malformed or huge")]
    try:
        problems = json.loads(done.stdout)
        assert isinstance(problems, list)
    except (ValueError, AssertionError):
        return ["could not be checked (the checker gave no answer)"]
    return [one_line(str(p)) for p in problems]


def missing_formats(artifacts: Sequence[Artifact], formats: Sequence[str]) -> list[str]:
    """The requested formats (normalised, in request order) that no delivered file has."""
    present = {normalize(Path(a.name).suffix) for a in artifacts if Path(a.name).suffix}
    wanted = list(dict.fromkeys(normalize(f) for f in formats))
    return [f for f in wanted if f not in present]


def validate_all(
    artifacts: Sequence[Artifact], formats: Sequence[str], *, timeout_s: float = TIMEOUT_S
) -> list[str]:
    """Every problem of a run's outputs: each file's, then each requested format not delivered."""
    problems: list[str] = []
    for artifact in artifacts:
        found = validate(Path(artifact.path), artifact.media_type, None, timeout_s=timeout_s)
        problems += [f"{artifact.name}: {p}" for p in found]
    problems += [f"no .{f} file was written" for f in missing_formats(artifacts, formats)]
    return problems


def _child_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "HOME")
    return {k: v for k, v in os.environ.items() if k in keep}
