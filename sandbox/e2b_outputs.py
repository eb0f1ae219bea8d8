"""Collecting an E2B sandbox's outputs: stop every process, then walk the working directory.

The steps of :meth:`promptkiln.sandbox.e2b.E2BSandbox.outputs` (see that module's docstring):
every process the run may have left is SIGKILLed by root (all of "user" and any other not in
the baseline taken at creation), then envd's ListDir walks the working directory without
following links, within the output budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from promptkiln.errors import OutputError, SandboxError
from promptkiln.sandbox import e2b_kernel as kernel_mode
from promptkiln.sandbox.base import INPUTS_DIR, WORKDIR, EntryKind, Limits, OutputEntry
from promptkiln.sandbox.e2b_errors import translate_errors
from promptkiln.sandbox.e2b_parts import ChunkReader, E2BEntry, entry_kind
from promptkiln.sandbox.e2b_scripts import SPECIAL_KINDS, STOP_SCRIPT


class E2BSandbox(ChunkReader, Protocol):
    """What these steps use of :class:`promptkiln.sandbox.e2b.E2BSandbox`."""

    limits: Limits
    endpoint: str
    _baseline: str
    _kernel_proc: str
    _files_user: str

    @property
    def sbx(self) -> Any: ...


def stop_processes(box: E2BSandbox) -> list[tuple[EntryKind, str]]:
    """SIGKILL every process of the sandbox user (raise if any survives); return the special
    files of the working directory as (kind, name relative to it)."""
    import e2b

    budget = box.limits.output_files * 4 + 64
    with translate_errors("stopping the E2B sandbox's processes", endpoint=box.endpoint):
        try:
            result = box.sbx.commands.run(
                STOP_SCRIPT,
                user="root",
                cwd="/",
                envs={
                    "WORKDIR": WORKDIR,
                    "MAX_SPECIAL": str(2 * budget),
                    # The kernel the script ran in is killed like the script's processes.
                    "BASELINE": kernel_mode.without(box._baseline, box._kernel_proc),
                },
                timeout=60,
            )
        except e2b.CommandExitException as exc:
            if not _still_running(box):
                raise SandboxError(
                    "the E2B sandbox ended while its processes were being stopped (killed, "
                    "out of memory, or at its lifetime); its outputs are lost",
                    hint="run again; if it recurs, raise [e2b] sandbox_timeout or the memory "
                    "of the template",
                ) from None
            raise SandboxError(
                f"could not stop every process in the E2B sandbox (status {exc.exit_code}); "
                "outputs are not collected from a sandbox that is still running",
                hint="use promptkiln's template (`promptkiln image e2b-template`): it needs "
                "bash, util-linux's setpriv and a user named 'user'",
            ) from None
    fields = (result.stdout or "").split("\0")
    return [
        (SPECIAL_KINDS.get(kind, EntryKind.OTHER), name)
        for kind, name in zip(fields[0::2], fields[1::2], strict=False)
        if name
    ]


def _still_running(box: E2BSandbox) -> bool:
    """Whether the sandbox is still there (True when that cannot be told)."""
    try:
        return bool(box.sbx.is_running(request_timeout=10))
    except Exception:  # a question asked only to word an error better
        return True


def walk(box: E2BSandbox) -> Iterator[OutputEntry]:
    """Stop every process, then walk the working directory with envd's ListDir."""
    specials = stop_processes(box)
    import e2b

    files = box.sbx.files
    listing_errors = translate_errors(
        "listing the outputs in the E2B sandbox", endpoint=box.endpoint
    )
    with listing_errors:
        root = files.get_info(WORKDIR, user=box._files_user)
    if root.type != e2b.FileType.DIR or root.symlink_target is not None:
        raise SandboxError(
            f"the script replaced the working directory {WORKDIR} with something that is "
            "not a directory; nothing is collected",
            hint="fix the script so it leaves its working directory in place",
        )
    budget = box.limits.output_files * 4 + 64
    for kind, name in specials:
        budget -= 1
        yield E2BEntry(name, kind, 0, 0, f"{WORKDIR}/{name}", box)
    pending = [WORKDIR]
    while pending and budget > 0:
        directory = pending.pop()
        listing = _list(box, directory)
        for info in sorted(listing, key=lambda i: i.path):
            if not info.path.startswith(directory + "/"):
                continue  # envd resolved a link it should not have: never trust it
            raw_name = info.path[len(WORKDIR) + 1 :]
            if raw_name == INPUTS_DIR:
                continue
            kind = entry_kind(e2b, info)
            budget -= 1
            if budget < 0:
                break
            yield E2BEntry(raw_name, kind, info.size, info.mode, info.path, box)
            if kind is EntryKind.DIR:
                pending.append(info.path)


def _list(box: E2BSandbox, directory: str) -> list[Any]:
    import e2b

    with translate_errors("listing the outputs in the E2B sandbox", endpoint=box.endpoint):
        try:
            return list(box.sbx.files.list(directory, depth=1, user=box._files_user))
        except e2b.SandboxException as exc:
            # envd answers in JSON, which cannot carry a file name that is not UTF-8: the
            # whole directory becomes unlistable. Nothing is collected rather than a part.
            if "utf-8" not in str(exc).lower():
                raise
            where = directory[len(WORKDIR) :].lstrip("/") or "the working directory"
            raise OutputError(
                f"the script created a file name that is not valid UTF-8 in {where}; E2B "
                "cannot list it, so no outputs were collected",
                hint="write files with UTF-8 names (any Python str name is fine)",
            ) from exc
