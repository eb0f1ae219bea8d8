"""The sandbox protocol and the types that cross it.

A backend is dumb: it starts, takes files in, runs one command with a timeout, hands the raw
entries of the working directory out, and stops. Everything clever (what may leave the sandbox,
how it is written to the user's disk) lives in :mod:`promptkiln.sandbox.collect`, shared by every
backend.

The sandbox contract, the same for every backend:

* working directory ``/home/user/work``; inputs are copied into ``/home/user/work/inputs``;
* every regular file the run creates or changes under the working directory, outside
  ``inputs/``, is an output;
* Python 3 with the document stack; no network; no secrets; a non-root user; bounded time,
  memory, processes and disk.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

# Limits and their units live at the bottom (promptkiln.limits); the backends read them here.
from promptkiln.limits import GiB as GiB
from promptkiln.limits import KiB as KiB
from promptkiln.limits import Limits as Limits
from promptkiln.limits import MiB as MiB

HOME = "/home/user"
#: The script's environment on every backend. Nothing from the host's environment is passed in.
SANDBOX_ENV = {
    "HOME": HOME,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "Agg",
    "TMPDIR": "/tmp",
}
WORKDIR = "/home/user/work"
INPUTS_DIR = "inputs"
#: Where the script itself is placed: outside the working directory, so it is never an output.
SCRIPT_PATH = "/home/user/.promptkiln/main.py"


class Termination(enum.Enum):
    """How a run ended."""

    EXITED = "exited"  #: the command finished on its own (any exit status)
    TIMEOUT = "timeout"  #: the wall-clock limit was hit and the sandbox was killed
    MEMORY = "memory"  #: the memory limit was hit (OOM kill)
    PIDS = "pids"  #: the process limit was hit  (reported when detectable)
    DISK = "disk"  #: the scratch space filled up (reported when detectable)


@dataclass(frozen=True)
class CapturedStream:
    """A captured stdout or stderr: the first ``limit`` bytes, and how many were dropped."""

    data: bytes
    dropped: int = 0

    @property
    def truncated(self) -> bool:
        return self.dropped > 0

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class RunResult:
    """The outcome of running one command in a sandbox. A non-zero exit is a result, not an error."""

    exit_code: int | None
    stdout: CapturedStream
    stderr: CapturedStream
    duration_s: float
    termination: Termination = Termination.EXITED

    @property
    def ok(self) -> bool:
        return self.termination is Termination.EXITED and self.exit_code == 0


class EntryKind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    FIFO = "fifo"
    CHARDEV = "chardev"
    BLOCKDEV = "blockdev"
    SOCKET = "socket"
    OTHER = "other"


class OutputEntry(Protocol):
    """One raw entry of the working directory, as a backend sees it. Nothing here is trusted."""

    @property
    def raw_name(self) -> str:
        """The path relative to the working directory, exactly as the sandbox named it."""

    @property
    def kind(self) -> EntryKind: ...

    @property
    def size(self) -> int:
        """Size in bytes as the sandbox reports it (not trusted: reads are capped anyway)."""

    @property
    def mode(self) -> int: ...

    def read(self, limit: int) -> bytes:
        """Read at most ``limit`` + 1 bytes of a FILE entry (one more, so over-size is seen)."""


@dataclass(frozen=True)
class Artifact:
    """A file that was delivered to the user."""

    name: str  #: sanitised relative name inside the destination
    path: str  #: absolute path where it was written
    size: int  #: bytes
    sha256: str
    media_type: str  #: detected from the content, not the extension


@dataclass(frozen=True)
class Rejection:
    """An output entry that was not delivered, and why."""

    name: str  #: the entry's name, made printable
    reason: str


@dataclass(frozen=True)
class InputFile:
    """A file to place under ``inputs/``: its name there, and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class SandboxInfo:
    """What a sandbox is, for run records and ``doctor``."""

    backend: str
    image: str
    runtime: str
    network: str = "none"
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Sandbox(Protocol):
    """The whole backend interface. Use as a context manager; ``close`` is idempotent."""

    info: SandboxInfo

    def start(self) -> None:
        """Create the sandbox. Raises a PlatformError subclass with a fix in its message."""

    def put_inputs(self, files: Sequence[InputFile], script: bytes) -> None:
        """Place input files under ``inputs/`` and the script at :data:`SCRIPT_PATH`."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        on_output: Callable[[str, bytes], None] | None = None,
    ) -> RunResult:
        """Run a command in the working directory. The timeout is enforced from outside.
        ``on_output(stream, data)``, when given, receives the output the run keeps while it
        runs (see :mod:`promptkiln.sandbox.live`)."""

    def outputs(self) -> Iterator[OutputEntry]:
        """Stop every process in the sandbox, then yield the raw entries of the working directory
        outside ``inputs/``. Entries may be read only while the iterator is current."""

    def close(self) -> None:
        """Destroy the sandbox and everything in it. Safe to call twice."""

    def __enter__(self) -> Sandbox: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
