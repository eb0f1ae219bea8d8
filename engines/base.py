"""What every vendor engine hands back: raw files, the script's text, and ids for the record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from promptkiln.errors import BackendUnavailable, PromptkilnError
from promptkiln.sandbox.base import EntryKind, InputFile

T = TypeVar("T")


@dataclass(frozen=True)
class VendorFile:
    """One file a vendor produced, as an :class:`~promptkiln.sandbox.base.OutputEntry`.

    ``raw_name`` is the name the vendor gave (its metadata): untrusted, sanitised by collection.
    """

    raw_name: str
    data: bytes
    file_id: str = ""

    @property
    def kind(self) -> EntryKind:
        return EntryKind.FILE

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def mode(self) -> int:
        return 0o644

    def read(self, limit: int) -> bytes:
        return self.data[: limit + 1]


@dataclass
class EngineState:
    """What a session keeps between turns: the vendor container, if the engine has one."""

    container_id: str | None = None
    #: sha256 of the files already in that container (uploaded or produced there).
    known: set[str] = field(default_factory=set)


@dataclass
class EngineOutput:
    """One request to a vendor: files, what the code printed, and what goes in the run record."""

    files: list[VendorFile]
    text: str  #: the model's words
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0
    timed_out: bool = False
    code: str = ""  #: the code the vendor ran, joined
    model: str = ""
    container_id: str | None = None
    file_ids: list[str] = field(default_factory=list)  #: vendor ids of inputs and outputs
    usage: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  #: e.g. "new container: the old one expired"


class Engine(Protocol):
    """A vendor engine. One instance serves one turn (its attempts share the container)."""

    name: str
    #: Whether a failed attempt can be followed up in the same conversation (repair loop).
    follow_up: bool

    def run(
        self,
        prompt: str,
        inputs: Sequence[InputFile],
        formats: Sequence[str],
        state: EngineState,
        *,
        repair: str | None = None,
    ) -> EngineOutput:
        """Send the prompt (or, with ``repair``, a follow-up naming the problem) and collect."""

    def close(self) -> None: ...


def add_usage(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value


def instructions(formats: Sequence[str], input_names: Sequence[str], input_dir: str) -> str:
    """The contract every vendor model is told: where inputs are, what to write, and where."""
    wanted = ", ".join(f.upper() for f in formats) or "the requested files"
    lines = [
        f"Produce {wanted} by running code with your code execution tool.",
        "Save every output file in the current working directory, with a short plain name "
        "(letters, digits, dots, dashes, underscores), and mention each file name in your answer.",
    ]
    if input_names:
        lines.append(f"The user's input files are in {input_dir}: " + ", ".join(input_names) + ".")
    return "\n".join(lines)


def sdk_missing(engine: str, extra: str) -> BackendUnavailable:
    return BackendUnavailable(
        f"the {engine} engine needs its SDK, which is not installed",
        hint=f"pip install 'promptkiln[{extra}]', or use --engine local",
    )


def guarded(
    engine: str,
    state: EngineState,
    out: EngineOutput,
    ask: Callable[[], T],
    ask_fresh: Callable[[], T],
    read: Callable[[T], None],
) -> EngineOutput:
    """Run one request at the vendor boundary: ``ask``; if the session's container has expired,
    forget it and ``ask_fresh`` (a new container, files uploaded again); ``read`` the answer.
    Vendor SDK errors leave as the promptkiln error for them (:mod:`promptkiln.engines.errors`)."""
    from promptkiln.engines.errors import ContainerExpired, map_vendor_error

    try:
        try:
            answer = ask()
        except ContainerExpired:
            out.notes.append(f"container {state.container_id} expired; using a new one")
            state.container_id = None
            state.known.clear()
            answer = ask_fresh()
        read(answer)
    except PromptkilnError:
        raise
    except Exception as exc:
        raise map_vendor_error(exc, engine) from exc
    out.container_id = state.container_id
    return out
