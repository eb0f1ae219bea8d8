"""``promptkiln gc`` for E2B sandboxes: remove those no live server looks after.

A sandbox is abandoned when its container stopped (and was not removed), or when the server
process that made it is gone from this host: nothing serves it any more (a server started again
on the same home adopts its sandboxes at start, before anyone runs gc). ``everything`` removes
every E2B sandbox. Only needs Docker (not the e2b SDK).
"""

from __future__ import annotations

import os
import socket

from promptkiln.server.e2b.box import (
    LABEL_HOST,
    LABEL_PID,
    LABEL_SANDBOX,
    LABEL_SERVER,
    Box,
    BoxSpec,
    running,
)


def _owner_alive(labels: dict[str, str]) -> bool:
    if labels.get(LABEL_HOST) != socket.gethostname():
        return True  # another host's: not ours to judge
    try:
        os.kill(int(labels.get(LABEL_PID, "0")), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def reap(*, everything: bool = False, live_servers: frozenset[str] = frozenset()) -> list[str]:
    """Remove abandoned E2B sandboxes; return their ids. ``live_servers``: ids of servers known
    to run (one restarted after a crash serves sandboxes labelled with its dead predecessor)."""
    removed = []
    for c in running():
        labels = c.get("Labels") or {}
        if not everything and labels.get(LABEL_SERVER) in live_servers:
            continue
        sid = labels.get(LABEL_SANDBOX, c["Id"][:12])
        box = Box(BoxSpec(image=""), sid, server="", container_id=c["Id"])
        if everything or c.get("State") != "running" or not _owner_alive(labels):
            box.destroy()
            removed.append(f"e2b sandbox {sid}")
    return removed
