"""The online path's base image: pulled from a container registry, or found unreachable in
time (an unreachable registry that does not refuse can otherwise hang a pull for minutes)."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

from promptkiln.errors import ImageError
from promptkiln.image.status import has_image
from promptkiln.image.steps import Progress

if TYPE_CHECKING:
    import docker

ONLINE_BASE = "debian:bookworm-slim"


#: Seconds the engine has to start answering a pull before the registry counts as unreachable.
PULL_FIRST_ANSWER_S = 30.0


def can_use_online_base(client: docker.DockerClient, progress: Progress) -> bool:
    if has_image(client, ONLINE_BASE):
        progress(f"{ONLINE_BASE} is already present")
        return True
    progress(f"checking whether {ONLINE_BASE} can be pulled")
    try:
        pull(client, ONLINE_BASE, progress)
    except ImageError as exc:
        progress(f"no container registry: {exc.message}")
        return False
    return True


def pull(client: docker.DockerClient, name: str, progress: Progress) -> None:
    """Pull ``name`` unless present. The engine must start answering within
    ``PULL_FIRST_ANSWER_S`` (a registry that is unreachable but not refused can otherwise hang
    for minutes); once layers flow, the pull may take as long as it needs."""
    if has_image(client, name):
        return
    repo, _, tag = name.partition(":")
    events: queue.Queue[dict[str, Any] | BaseException | None] = queue.Queue()

    def pump() -> None:
        try:
            for event in client.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
                events.put(event)
            events.put(None)
        except Exception as exc:  # handed to the caller's thread below
            events.put(exc)

    threading.Thread(target=pump, name="promptkiln-pull", daemon=True).start()
    wait: float | None = PULL_FIRST_ANSWER_S
    while True:
        try:
            event = events.get(timeout=wait)
        except queue.Empty:
            raise ImageError(
                f"could not pull {name}: no answer within {wait:g} s", image=name
            ) from None
        if event is None:
            return
        if isinstance(event, BaseException):
            raise ImageError(f"could not pull {name}: {event}", image=name) from event
        if "error" in event:
            raise ImageError(f"could not pull {name}: {event['error']}", image=name)
        if event.get("status") and not event.get("progressDetail"):
            progress(f"pull {name}: {event['status']}")
        wait = None
