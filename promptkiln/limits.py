"""The resource limits of one sandbox, and the size units they are written in.

At the bottom of the house with config and errors: the configuration builds a :class:`Limits`,
and every backend (:mod:`promptkiln.sandbox`) enforces one.
"""

from __future__ import annotations

from dataclasses import dataclass

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandbox. Units are in the names: seconds, bytes, counts."""

    cpus: float = 2.0
    memory_bytes: int = 1 * GiB
    pids: int = 256
    timeout_s: float = 300.0
    #: Size of the writable scratch space (the working directory and ``/tmp``), in bytes.
    disk_bytes: int = 512 * MiB
    #: Caps on what collection will deliver.
    output_bytes: int = 256 * MiB
    output_file_bytes: int = 128 * MiB
    output_files: int = 200
    #: Bytes of stdout and of stderr kept; the rest is counted and dropped.
    log_bytes: int = 64 * KiB
