"""Watching a script run in a Docker sandbox: the exit status, the wall clock, and why a run
ended badly (the memory limit, or a sandbox that died under the script).

The script's process is an exec (a plain ``python3 main.py``, or the warm interpreter); its
output is drained by a reader thread while :func:`watch` polls the exec's state. The wall clock
is enforced here, from outside: on timeout the whole container is killed.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from promptkiln.errors import SandboxError
from promptkiln.sandbox.base import Termination
from promptkiln.sandbox.docker_engine import translate_errors


def container_running(api: Any, container_id: str) -> bool:
    import docker.errors

    try:
        info = api.inspect_container(container_id)
    except docker.errors.NotFound:
        return False
    return bool(info.get("State", {}).get("Running"))


def watch(
    api: Any, container_id: str, exec_id: str, reader: Any, deadline: float
) -> tuple[Termination | None, int | None]:
    """Wait for the exec to end. Returns ``(EXITED, status)`` for an exec that finished,
    ``(None, None)`` when it vanished with its sandbox (ask :func:`why_ended`), and
    ``(TIMEOUT, None)`` at the deadline (the caller kills the sandbox)."""
    import docker.errors

    for tick in itertools.count():
        reader.join(timeout=0.05)
        with translate_errors("watching the script"):
            try:
                state = api.exec_inspect(exec_id)
                # gVisor: when the sandbox dies (memory, a fork bomb) the exec may stay
                # "running" and its stream open; the container's state tells the truth.
                gone = (
                    bool(state.get("Running"))
                    and (not reader.is_alive() or tick % 20 == 19)
                    and not container_running(api, container_id)
                )
            except docker.errors.NotFound:
                gone = True  # the exec went with its sandbox
        if gone:
            reader.join(timeout=0.5)
            return None, None
        if not state.get("Running") and (
            not reader.is_alive() or state.get("ExitCode") is not None
        ):
            # Orphans may still hold stdout open: give the pipe a moment, then stop.
            reader.join(timeout=0.5)
            return Termination.EXITED, state.get("ExitCode")
        if time.monotonic() >= deadline:
            return Termination.TIMEOUT, None
    raise AssertionError("unreachable")  # pragma: no cover


def why_ended(
    api: Any, container: Any, exit_code: int | None, started_at: int, runtime: str
) -> Termination:
    """The script ended badly: was it the memory limit, or did the sandbox itself stop?

    Under gVisor a memory or process bomb takes the whole sandbox down (the runtime is one
    process in the container's cgroup), so the exec vanishes rather than failing. Raises
    :class:`SandboxError` when the sandbox is gone or stopped."""
    if oom_killed(api, container.id, started_at, exit_code):
        return Termination.MEMORY
    import docker.errors

    with translate_errors("inspecting the sandbox"):
        try:
            container.reload()
        except docker.errors.NotFound as exc:
            raise SandboxError(
                "the sandbox was removed while the script ran",
                hint="something else removed it (`promptkiln gc --all`?); run again",
            ) from exc
    state = container.attrs.get("State", {})
    if state.get("Status") in ("running", "paused"):
        return Termination.EXITED  # an ordinary non-zero exit
    if state.get("OOMKilled"):
        return Termination.MEMORY
    raise SandboxError(
        f"the sandbox stopped while the script ran (its init exited with status "
        f"{state.get('ExitCode')}, runtime {runtime})",
        hint="the script may have hit the process limit (under gVisor a fork bomb ends the "
        "whole sandbox) or signalled the sandbox's init; fix the script and run again",
    )


def oom_killed(api: Any, container_id: str, started_at: int, exit_code: int | None) -> bool:
    """Did the memory cgroup's OOM killer act during this run?

    Asked of the engine's event log, not of ``State.OOMKilled``: that flag is only set when
    PID 1 dies of it, and here the killed process is the exec'd script (or one of its
    children, after which the script may exit with any status)."""
    if exit_code == 0:
        return False
    for attempt in range(3):
        with translate_errors("inspecting the sandbox"):
            events = api.events(
                since=started_at - 1,
                until=int(time.time()) + 1,
                filters={"container": container_id, "event": "oom"},
                decode=True,
            )
            try:
                if any(True for _ in events):
                    return True
            finally:
                events.close()
        if exit_code != 137 or attempt == 2:
            return False
        time.sleep(0.1)  # the event may trail the exec's exit by a moment
    return False


__all__ = ["container_running", "oom_killed", "watch", "why_ended"]
