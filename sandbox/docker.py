"""The ``docker`` backend: one locked-down container per run, through the docker SDK.

Shape of a run::

    create   a tmpfs volume at /home/user and a locked-down container around it, PID 1 a
             sleeping tini of another uid than the script's (docker_create.py: every flag)
    warm     (pooled sandboxes only) the warm interpreter is exec'd as uid 1000 with stdin
             attached and imports the document stack before any job exists (docker_warm.py)
    inputs   one put_archive of work/inputs/* and .promptkiln/main.py into the volume; a
             warm sandbox takes them on the job line instead (up to INLINE_INPUT_BYTES)
    run      docker exec of `python3 main.py` in /home/user/work, or the job line sent to
             the warm interpreter, which then runs main.py as __main__ (under gVisor behind
             syscall_guard's seccomp filter: runsc applies no profile to exec'd processes);
             stdout/stderr read in a thread, capped; the wall clock is enforced from outside
             (docker_run.py): on timeout the whole container is killed; a sandbox that dies
             under the script (memory, gVisor fork bomb) is noticed from the container's state
    outputs  the container is *paused* (cgroup freezer: every process stopped, orphans too),
             then get_archive of /home/user/work streams out as tar (docker_files.py). A warm
             sandbox has already sent the directory back on its stream once the script ended
             and every other process of the sandbox user was killed: that tar goes through
             the same cap and reader, with no round trip; if it came incomplete, the paused
             archive is read as for a cold sandbox
    close    force-remove the container, then the volume, and anything else labelled with
             this run; idempotent, also on Ctrl-C (a second Ctrl-C during cleanup waits for
             it, a third gives up and leaves the rest to the next sweep)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any

from promptkiln.errors import ImageError, SandboxError
from promptkiln.sandbox.base import (
    HOME,
    WORKDIR,
    CapturedStream,
    InputFile,
    Limits,
    OutputEntry,
    RunResult,
    SandboxInfo,
    Termination,
)
from promptkiln.sandbox.docker_create import SANDBOX_ENV, create_container, create_volume
from promptkiln.sandbox.docker_engine import (
    connect,
    reap,
    remove_run,
    run_labels,
    sweep_in_background,
    translate_errors,
)
from promptkiln.sandbox.docker_files import (
    check_inputs_size,
    freeze,
    input_archive,
    max_entries,
    outputs_cap,
    put_archive,
    workdir_entries,
)
from promptkiln.sandbox.docker_parts import UID, StreamReader, interrupts_deferred
from promptkiln.sandbox.docker_run import watch, why_ended
from promptkiln.sandbox.docker_warm import (
    INLINE_INPUT_BYTES,
    WARM_PROGRAM,
    WarmExec,
    WarmReader,
    job_line,
)
from promptkiln.sandbox.live import OutputSink
from promptkiln.sandbox.syscall_guard import guarded

if TYPE_CHECKING:
    import docker

    from promptkiln.config import Settings

#: How long closing a sandbox waits for the start-up sweep of dead runs' leftovers to finish.
SWEEP_WAIT_S = 10.0


class DockerSandbox:
    """A sandbox in a locked-down Docker container. See the module docstring."""

    def __init__(
        self,
        settings: Settings,
        run_id: str,
        *,
        client: docker.DockerClient | None = None,
        lifetime_s: float = 0.0,
        warm: bool = False,
    ) -> None:
        self.run_id = run_id
        self.limits: Limits = settings.limits.to_limits()
        self.image = settings.image
        self.runtime = settings.runtime
        self._docker_host = settings.docker_host
        self._client = client
        self._container: Any = None
        self._volume: Any = None
        self._dead = False
        self._closed = False
        self._started_at = int(time.time())
        self._archive: Any = None
        self._sweep: threading.Thread | None = None
        self._paused = False
        self._lifetime_s = lifetime_s
        self._warm: WarmExec | None = None
        self._warm_on_start = warm
        #: The script and inputs, kept for the warm interpreter's job line.
        self._inline: tuple[Sequence[InputFile], bytes] | None = None
        #: The reader of a warm run whose stream carried the working directory back.
        self._sent_back: WarmReader | None = None
        #: Seconds per step of this sandbox's life (create, warm, inputs, run, pause, archive,
        #: remove), for ``make bench``'s breakdown.
        self.steps: dict[str, float] = {}
        self.info = SandboxInfo(
            backend="docker",
            image=self.image,
            runtime=self.runtime or "runc",
            network="none",
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect(self._docker_host)
        return self._client

    def start(self) -> None:
        client = self.client
        self._sweep = sweep_in_background(self._docker_host)
        with translate_errors("starting the sandbox"):
            image = self._image()
            self.info.extra["image_id"] = image.id
            t0 = time.monotonic()
            deadline = time.time() + self._lifetime_s + self.limits.timeout_s + 120
            labels = run_labels(self.run_id, deadline)
            name = f"promptkiln-{self.run_id}"
            self._volume = create_volume(client, name, self.limits, labels)
            self._container = create_container(
                client, image.id, name, self.limits, self.runtime, labels
            )
            self._started_at = int(time.time())
            self._container.start()
            self.steps["create_s"] = time.monotonic() - t0
        if self._warm_on_start:
            self.warm()

    def warm(self) -> None:
        """Start the warm interpreter (after :meth:`start`, before any job): the next
        ``run(["python3", script, ...])`` hands the script to it instead of a new exec."""
        t0 = time.monotonic()
        with translate_errors("warming the sandbox"):
            self._warm = WarmExec.start(
                self.client.api,
                self._container.id,
                self._guard(["python3", WARM_PROGRAM]),
                user=f"{UID}:{UID}",
                workdir=HOME,
                environment=dict(SANDBOX_ENV),
            )
            # Its reader starts now, off the job's critical path; it waits on the idle stream.
            self._warm.listen(self.limits.log_bytes, outputs_cap(self.limits))
        self.info.extra["warm"] = "yes"
        self.steps["warm_s"] = time.monotonic() - t0

    def _guard(self, command: list[str]) -> list[str]:
        # gVisor applies neither the seccomp profile nor no_new_privs to exec'd processes.
        return guarded(command) if self.runtime == "runsc" else command

    def _image(self) -> Any:
        import docker.errors

        try:
            return self.client.images.get(self.image)
        except docker.errors.ImageNotFound as exc:
            raise ImageError(
                f"the sandbox image {self.image!r} is not built yet",
                image=self.image,
                hint="run `promptkiln image build` (once; a few minutes)",
            ) from exc

    def close(self) -> None:
        """Remove the container and the volume, and anything else labelled with this run (a
        Ctrl-C during start can leave a container the handle never saw). Never raises for an
        engine that went away: what is left is found by label at the next start-up sweep or
        ``promptkiln gc``."""
        if self._closed:
            return
        self._closed = True
        if self._client is None:
            return
        t0 = time.monotonic()
        with interrupts_deferred():
            self._remove_all()
            self.steps["remove_s"] = time.monotonic() - t0
            if self._sweep is not None:
                # Let the start-up sweep finish (it rarely has anything to do): a short run
                # would otherwise end the process before the leftovers it found are gone.
                self._sweep.join(timeout=SWEEP_WAIT_S)

    def _hang_up(self) -> None:
        """Close the output archive's stream, read to its end or not. Until it is closed the
        engine holds the container's lock, and removing the container waits for it (up to the
        client's timeout, then fails and leaves the container behind). The collector may stop
        half-way (a full destination, Ctrl-C), with this generator still suspended."""
        archive, self._archive = self._archive, None
        if archive is not None:
            with suppress(Exception):
                archive.close()
        warm, self._warm = self._warm, None
        if warm is not None:
            warm.close()
        sent_back, self._sent_back = self._sent_back, None
        if sent_back is not None:
            sent_back.discard()

    def _remove_all(self) -> None:
        self._hang_up()
        assert self._client is not None
        remove_run(self._client, self.run_id, self._container, self._volume, paused=self._paused)

    def __enter__(self) -> DockerSandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- files in --------------------------------------------------------------------------

    def put_inputs(self, files: Sequence[InputFile], script: bytes) -> None:
        total = check_inputs_size(files, script, self.limits)
        if self._warm is not None and self._warm.protocol >= 2 and total <= INLINE_INPUT_BYTES:
            self._inline = (list(files), script)  # sent on the job line: no round trip
            return
        t0 = time.monotonic()
        put_archive(self._container, input_archive(files, script))
        self.steps["inputs_s"] = time.monotonic() - t0

    def _put_inline(self) -> None:
        """The job is not the warm interpreter's after all: copy its files in the cold way."""
        inline, self._inline = self._inline, None
        if inline is not None:
            put_archive(self._container, input_archive(*inline))

    # -- run ---------------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, timeout_s: float, on_output: OutputSink | None = None
    ) -> RunResult:
        api = self.client.api
        started = time.monotonic()
        warm, self._warm = self._warm, None
        reader: StreamReader | WarmReader
        closer: Any
        with translate_errors("running the script"):
            if warm is not None and len(argv) >= 2 and argv[0] == "python3":
                inline, self._inline = self._inline, None
                line = job_line(
                    argv[1:],
                    WORKDIR,
                    inputs=inline,
                    token=warm.token if warm.protocol >= 2 else None,
                    outputs_cap=outputs_cap(self.limits),
                    max_entries=max_entries(self.limits),
                )
                if warm.reader is not None:
                    warm.reader.sink = on_output  # before the job starts writing
                reader = warm.go(line)  # its reader is already listening
                exec_id, closer = warm.exec_id, warm
            else:
                if warm is not None:
                    warm.close()  # not a Python script: the interpreter exits unused
                self._put_inline()
                exec_id = api.exec_create(
                    self._container.id,
                    self._guard(list(argv)),
                    stdout=True,
                    stderr=True,
                    user=f"{UID}:{UID}",
                    workdir=WORKDIR,
                    environment=dict(SANDBOX_ENV),
                )["Id"]
                closer = api.exec_start(exec_id, stream=True, demux=True)
                reader = StreamReader(closer, self.limits.log_bytes, on_output)
                reader.start()
        try:
            termination, exit_code = watch(
                api, self._container.id, exec_id, reader, started + timeout_s
            )
            if termination is Termination.TIMEOUT:
                self._kill()
        finally:
            closer.close()
            reader.join(timeout=2)
        self.steps["run_s"] = time.monotonic() - started
        if termination is None or (termination is Termination.EXITED and exit_code != 0):
            termination = self._why_ended(exit_code)
        if isinstance(reader, WarmReader):
            if termination is Termination.EXITED and reader.outputs_complete:
                self._sent_back = reader
            else:
                reader.discard()
        return RunResult(
            exit_code=exit_code,
            stdout=CapturedStream(bytes(reader.out), reader.dropped[0]),
            stderr=CapturedStream(bytes(reader.err), reader.dropped[1]),
            duration_s=time.monotonic() - started,
            termination=termination,
        )

    def _kill(self) -> None:
        import docker.errors

        self._dead = True
        with suppress(docker.errors.DockerException):
            self._container.kill()

    def _why_ended(self, exit_code: int | None) -> Termination:
        try:
            return why_ended(
                self.client.api, self._container, exit_code, self._started_at, self.info.runtime
            )
        except SandboxError:
            self._dead = True
            raise

    # -- files out ---------------------------------------------------------------------------

    def outputs(self) -> Iterator[OutputEntry]:
        """The working directory's entries: as the warm interpreter sent them back, or, after
        freezing every process (orphans included), as the engine archives it."""
        if self._dead:
            return
        t0 = time.monotonic()
        if self._sent_back is not None:
            try:
                yield from workdir_entries(self._sent_back.outputs(), self.limits)
            finally:
                self._hang_up()
                self.steps["archive_s"] = time.monotonic() - t0
            return
        self._paused = freeze(self._container) or self._paused
        self.steps["pause_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        with translate_errors("copying outputs out of the sandbox"):
            chunks, _stat = self._container.get_archive(WORKDIR)
            self._archive = chunks
            try:
                yield from workdir_entries(chunks, self.limits)
            finally:
                self._hang_up()
                self.steps["archive_s"] = time.monotonic() - t0


def create(settings: Settings, run_id: str) -> DockerSandbox:
    """Registry factory for the ``docker`` backend: a cold sandbox, started when the job needs
    it (warm ones come from :class:`promptkiln.sandbox.pool.SandboxPool`)."""
    return DockerSandbox(settings, run_id)


__all__ = ["DockerSandbox", "connect", "create", "reap", "sweep_in_background", "translate_errors"]
