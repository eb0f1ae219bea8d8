"""The warm interpreter of a Docker sandbox, seen from the host.

``images/promptkiln_warm.py`` (``/opt/promptkiln/warm.py`` in the image) is exec'd as the sandbox
user with stdin attached, right after the container starts and before any job exists. It imports
the document stack and writes a ready line; :meth:`WarmExec.start` reads the attached stream up
to that line. :meth:`WarmExec.go` sends the job on stdin, in one line: argv and working
directory, the script and small inputs (so no separate copy into the sandbox is needed), and
what it should hand back. From then on the same stream carries the script's stdout and stderr,
read by :class:`WarmReader`; once the script has ended on its own, the interpreter sends the
working directory back on it as a tar after a marker with this job's token (the format is in the
interpreter's docstring), so collecting the outputs costs no further round trip to the engine.
The exec's id is what the backend watches for the exit status. One exec per sandbox, one job
per exec: nothing is reused.

Nothing the stream carries is trusted: the script runs in the interpreter's own process and
could fake any of it. The outputs pass the same caps, the same tar reader and the same
collection rules as the engine's archive of a cold sandbox, and the exit status still comes
from the engine; a stream that ends without its last frame sends the backend back to the
engine's archive of the frozen sandbox.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from typing import IO, Any

from promptkiln.errors import SandboxError
from promptkiln.sandbox.base import INPUTS_DIR, SCRIPT_PATH, WORKDIR, InputFile, MiB
from promptkiln.sandbox.docker_parts import keep_and_show
from promptkiln.sandbox.entries import MAX_DIRS

#: Where the image keeps the warm interpreter, and the line it writes once it is ready.
WARM_PROGRAM = "/opt/promptkiln/warm.py"
READY = b"promptkiln-warm-ready 2\n"
#: The ready line of an interpreter from an older image: argv and cwd only, no files on the
#: job line, no outputs sent back (the job then takes the cold path's copy in and archive out).
READY_V1 = b"promptkiln-warm-ready\n"
#: How long the interpreter may take to import the stack before the sandbox counts as broken.
READY_TIMEOUT_S = 120.0
#: Inputs (with the script) up to this size travel on the job line; larger ones are copied in
#: with the engine's archive API first, as for a cold sandbox.
INLINE_INPUT_BYTES = 4 * MiB
#: The interpreter sends frames of at most 256 KiB; a longer one means a corrupt stream.
MAX_FRAME_BYTES = 1 * MiB
#: Outputs are kept in memory up to this size, then in a temporary file on the host.
SPOOL_MEMORY_BYTES = 16 * MiB
STDOUT = 1
STDERR = 2


def job_line(
    argv: Sequence[str],
    cwd: str,
    *,
    inputs: tuple[Sequence[InputFile], bytes] | None,
    token: str | None,
    outputs_cap: int,
    max_entries: int = 1 << 62,
) -> bytes:
    """The one line the interpreter reads: what to run, the files to place first (as the cold
    path's input archive places them), and whether to send the working directory back."""
    job: dict[str, Any] = {"argv": list(argv), "cwd": cwd}
    if inputs is not None:
        files, script = inputs
        inputs_dir = f"{WORKDIR}/{INPUTS_DIR}"
        job["dirs"] = [WORKDIR, inputs_dir, os.path.dirname(SCRIPT_PATH)]
        job["files"] = [[f"{inputs_dir}/{f.name}", _b64(f.data)] for f in files]
        job["files"].append([SCRIPT_PATH, _b64(script)])
        job["mtime"] = int(time.time())
    if token is not None:
        job["out"] = {
            "token": token,
            "dir": WORKDIR,
            "skip": [INPUTS_DIR],
            "cap": outputs_cap,
            "max_entries": max_entries,
            "max_dirs": MAX_DIRS,
        }
    return json.dumps(job).encode() + b"\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class WarmExec:
    """One warm interpreter: its exec id and its attached (hijacked) connection."""

    def __init__(self, exec_id: str, sock: Any) -> None:
        self.exec_id = exec_id
        self._sock = sock
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        self.used = False
        #: This job's marker token, and the reader of its stream (see :meth:`listen`).
        self.token = secrets.token_hex(16)
        self.reader: WarmReader | None = None
        #: What the interpreter understands (its ready line): 2 = files in, outputs back.
        self.protocol = 1

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
                if seen in (READY, READY_V1):
                    self.protocol = 2 if seen == READY else 1
                    return
                if not (READY.startswith(seen) or READY_V1.startswith(seen)) or stream != STDOUT:
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

    def listen(self, log_cap: int, outputs_cap: int) -> None:
        """Start the stream's reader now (after the ready line, before any job): the job does
        not wait for a thread to start. Until the job goes, the stream is silent."""
        token = self.token if self.protocol >= 2 else None
        self.reader = WarmReader(self._sock, log_cap, token, outputs_cap)
        self.reader.start()

    def go(self, line: bytes) -> WarmReader:
        """Hand the job (a :func:`job_line` made with :attr:`token`) over; returns the reader
        of the script's output (:meth:`listen` first)."""
        assert self.reader is not None, "listen() before go()"
        self.used = True
        self._raw.sendall(line)
        # End of stdin: the engine finishes the exec only once its stdin stream is done (the
        # interpreter has already put /dev/null in its place, as a plain exec has).
        self._raw.shutdown(socket.SHUT_WR)
        return self.reader

    def close(self) -> None:
        """Hang up. A reader blocked on the connection wakes up with end-of-stream; an
        interpreter still waiting for its job sees end-of-file and exits without running one."""
        with suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            self._sock.close()


def _marker_start(data: bytes, marker: bytes) -> int:
    """The length of the longest end of ``data`` that is a beginning of ``marker``."""
    first = data.find(marker[:1], max(0, len(data) - len(marker) + 1))
    while first >= 0:
        if marker.startswith(data[first:]):
            return len(data) - first
        first = data.find(marker[:1], first + 1)
    return 0


class WarmReader(threading.Thread):
    """Reads the warm exec's stream: stdout and stderr into two capped buffers (the rest is
    counted, not kept), as :class:`promptkiln.sandbox.docker_parts.StreamReader` does, until
    the outputs marker; after it, the framed tar of the working directory into a spool that
    keeps at most ``outputs_cap`` + 1 bytes (one more, so the shared cap sees it is too long)."""

    def __init__(self, sock: Any, log_cap: int, token: str | None, outputs_cap: int) -> None:
        super().__init__(name="promptkiln-exec-reader", daemon=True)
        self._sock = sock
        self._cap = log_cap
        self._marker = b"\0promptkiln-outputs:" + token.encode() + b"\0" if token else None
        self._outputs_cap = outputs_cap
        self.out = bytearray()
        self.err = bytearray()
        self.dropped = [0, 0]
        self.error: BaseException | None = None
        #: Live output: what is kept also goes here as it comes (set before the job is sent).
        self.sink: Callable[[str, bytes], None] | None = None
        self._pending = b""  # stdout bytes that may be the start of the marker
        self._buf = bytearray()  # undecoded frame bytes
        self._need: int | None = None  # bytes left of the current frame's data
        self.spool: IO[bytes] | None = None
        self.spooled = 0
        self._done = False  # the zero-length frame came
        self._broken = False  # a bad frame, or bytes after the last one

    @property
    def outputs_complete(self) -> bool:
        """The stream ended after the last frame of the outputs, and nothing came after it."""
        return self._done and not self._broken and self.error is None and not self.is_alive()

    def _keep(self, index: int, buf: bytearray, chunk: bytes) -> None:
        self.dropped[index] += keep_and_show(buf, chunk, self._cap, self.sink, index)

    def run(self) -> None:
        from docker.utils.socket import frames_iter_no_tty

        try:
            for stream, data in frames_iter_no_tty(self._sock):
                chunk = data.encode() if isinstance(data, str) else bytes(data)
                if stream == STDERR:
                    self._keep(1, self.err, chunk)
                elif stream == STDOUT:
                    if self.spool is None:
                        self._stdout(chunk)
                    else:
                        self._frames(chunk)
        except Exception as exc:  # reported by the owner; a closed stream ends here too
            self.error = exc
        finally:
            if self.spool is None and self._pending:
                self._keep(0, self.out, self._pending)
                self._pending = b""

    def _stdout(self, chunk: bytes) -> None:
        if self._marker is None:
            self._keep(0, self.out, chunk)
            return
        data = self._pending + chunk
        at = data.find(self._marker)
        if at < 0:
            # hold back only what may be the start of the marker (live output must not wait)
            tail = _marker_start(data, self._marker)
            keep, self._pending = data[: len(data) - tail], data[len(data) - tail :]
            if keep:
                self._keep(0, self.out, keep)
            return
        self._pending = b""
        if at:
            self._keep(0, self.out, data[:at])
        self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (closed by discard)
        rest = data[at + len(self._marker) :]
        if rest:
            self._frames(rest)

    def _frames(self, chunk: bytes) -> None:
        if self._done or self._broken:
            self._broken = True
            return
        self._buf += chunk
        while self._buf:
            if self._need is None:
                if len(self._buf) < 4:
                    return
                size = int.from_bytes(self._buf[:4], "big")
                del self._buf[:4]
                if size == 0:
                    self._done = True
                    self._broken = bool(self._buf)
                    return
                if size > MAX_FRAME_BYTES:
                    self._broken = True
                    return
                self._need = size
            take = min(self._need, len(self._buf))
            self._store(bytes(self._buf[:take]))
            del self._buf[:take]
            self._need -= take
            if self._need == 0:
                self._need = None

    def _store(self, data: bytes) -> None:
        assert self.spool is not None
        room = self._outputs_cap + 1 - self.spooled
        if room > 0:
            self.spool.write(data[:room])
        self.spooled += len(data)

    def outputs(self) -> Iterator[bytes]:
        """The spooled tar, in chunks (only when :attr:`outputs_complete`)."""
        assert self.spool is not None
        self.spool.seek(0)
        while chunk := self.spool.read(1 * MiB):
            yield chunk

    def discard(self) -> None:
        spool, self.spool = self.spool, None
        if spool is not None:
            with suppress(OSError):
                spool.close()


__all__ = [
    "INLINE_INPUT_BYTES",
    "READY",
    "READY_V1",
    "WARM_PROGRAM",
    "WarmExec",
    "WarmReader",
    "job_line",
]
