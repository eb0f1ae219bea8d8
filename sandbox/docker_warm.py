"""The warm interpreter of a Docker sandbox, seen from the host.

``images/promptkiln_warm.py`` (``/opt/promptkiln/warm.py`` in the image) is exec'd as the sandbox
user with stdin attached, right after the container starts and before any job exists. It imports
the document stack and writes a ready line; :meth:`WarmExec.start` reads the attached stream up
to that line. :meth:`WarmExec.go` sends the job (argv and working directory) on stdin; from then
on the same stream carries the script's stdout and stderr, demuxed into ``(out, err)`` pairs for
:class:`promptkiln.sandbox.docker_parts.StreamReader`, and the exec's id is what the backend
watches for the exit status. One exec per sandbox, one job per exec: nothing is reused.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any

from promptkiln.errors import SandboxError

#: Where the image keeps the warm interpreter, and the line it writes once it is ready.
WARM_PROGRAM = "/opt/promptkiln/warm.py"
READY = b"promptkiln-warm-ready\n"
#: How long the interpreter may take to import the stack before the sandbox counts as broken.
READY_TIMEOUT_S = 120.0
STDOUT = 1
STDERR = 2


class WarmExec:
    """One warm interpreter: its exec id and its attached (hijacked) connection."""

    def __init__(self, exec_id: str, sock: Any) -> None:
        self.exec_id = exec_id
        self._sock = sock
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        self.used = False

    @classmethod
    def start(
        cls,
        api: Any,
        container_id: str,
        command: Sequence[str],
        *,
        user: str,
        workdir: str,
        environment: dict[str, str],
    ) -> WarmExec:
        """Exec the interpreter and wait until it has imported the stack."""
        exec_id = api.exec_create(
            container_id,
            list(command),
            stdin=True,
            stdout=True,
            stderr=True,
            user=user,
            workdir=workdir,
            environment=environment,
        )["Id"]
        sock = api.exec_start(exec_id, socket=True)
        warm = cls(exec_id, sock)
        warm._await_ready()
        return warm

    def _await_ready(self) -> None:
        from docker.utils.socket import frames_iter_no_tty

        self._raw.settimeout(READY_TIMEOUT_S)
        seen = b""
        started = time.monotonic()
        try:
            for stream, data in frames_iter_no_tty(self._sock):
                if stream == STDOUT:
                    seen += data.encode() if isinstance(data, str) else bytes(data)
                if seen == READY:
                    return
                if not READY.startswith(seen) or stream != STDOUT:
                    break
                if time.monotonic() - started > READY_TIMEOUT_S:
                    break
        except OSError:
            pass
        finally:
            with suppress(OSError):
                self._raw.settimeout(None)
        self.close()
        raise SandboxError(
            "the sandbox's warm interpreter did not start",
            hint="rebuild the image (`promptkiln image build`), or turn the pool off "
            "([pool] size = 0)",
        )

    def go(self, argv: Sequence[str], cwd: str) -> Iterator[tuple[bytes | None, bytes | None]]:
        """Hand the job over; returns the script's output as ``(stdout, stderr)`` chunks."""
        from docker.utils.socket import frames_iter_no_tty

        self.used = True
        line = json.dumps({"argv": list(argv), "cwd": cwd}).encode() + b"\n"
        self._raw.sendall(line)
        # End of stdin: the engine finishes the exec only once its stdin stream is done (the
        # interpreter has already put /dev/null in its place, as a plain exec has).
        self._raw.shutdown(socket.SHUT_WR)

        def pairs() -> Iterator[tuple[bytes | None, bytes | None]]:
            for stream, data in frames_iter_no_tty(self._sock):
                chunk = data.encode() if isinstance(data, str) else bytes(data)
                if stream == STDOUT:
                    yield chunk, None
                elif stream == STDERR:
                    yield None, chunk

        return pairs()

    def close(self) -> None:
        """Hang up. A reader blocked on the connection wakes up with end-of-stream; an
        interpreter still waiting for its job sees end-of-file and exits without running one."""
        with suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            self._sock.close()


__all__ = ["READY", "WARM_PROGRAM", "WarmExec"]
