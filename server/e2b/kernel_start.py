"""Starting a code-interpreter sandbox's kernel (kernel_program.py) as the sandbox's user."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from promptkiln.server.e2b.kernel_program import KERNEL, SOCKET

if TYPE_CHECKING:
    from promptkiln.server.e2b.box import Box


def start_kernel(box: Box) -> None:
    """Start the sandbox's kernel as the user and wait until it listens."""
    api = box.api()
    exec_id = api.exec_create(
        box.container_id,
        ["python3", "-c", KERNEL, SOCKET],
        user="1000:1000",
        workdir="/home/user",
        environment={"HOME": "/home/user", **box.env},
    )
    api.exec_start(exec_id, detach=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, _ = box.exec_simple(["test", "-S", SOCKET], user="user")
        if code == 0:
            return
        time.sleep(0.05)
    raise RuntimeError("the code-interpreter kernel did not start")
