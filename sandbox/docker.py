"""The ``docker`` backend: one locked-down container per run, through the docker SDK.

Shape of a run::

    volume   tmpfs-backed named volume at /home/user (size = limits.disk_bytes, uid 1000)
    create   PID 1 = docker-init (tini) -> `sleep infinity`, as uid 1001 (not the script's
             uid 1000: the script cannot open PID 1's memory or environment); network none,
             read-only root, cap-drop ALL, no-new-privileges, pids/memory/CPU limits,
             a small tmpfs /tmp, no host environment, labels for reaping, no container log
             (PID 1's stdout is writable by the script: a json-file log would let it fill
             the host's disk), RLIMIT_FSIZE = the scratch size (no huge sparse files)
    inputs   one put_archive of work/inputs/* and .promptkiln/main.py into the volume
    warm     (pooled sandboxes only) the warm interpreter is exec'd as uid 1000 with stdin
             attached and imports the document stack before any job exists (docker_warm.py)
    run      docker exec of `python3 main.py` in /home/user/work, or the job line sent to
             the warm interpreter, which then runs main.py as __main__ (under gVisor behind
             syscall_guard's seccomp filter: runsc applies no profile to exec'd processes);
             stdout/stderr read in a thread, capped; the wall clock is enforced here: on
             timeout the whole container is killed; a sandbox that dies under the script
             (memory, gVisor fork bomb) is noticed from the container's state
    outputs  the container is *paused* (cgroup freezer: every process stopped, orphans too),
             then get_archive of /home/user/work streams out as tar; nothing is extracted,
             the shared collector decides what leaves. The stream is cut off past the
             scratch size plus header room: only sparse files can make it longer, and
             the engine would otherwise stream their holes for minutes
    close    force-remove the container, then the volume, and anything else labelled with
             this run; idempotent, also on Ctrl-C (a second Ctrl-C during cleanup waits for
             it, a third gives up and leaves the rest to the next sweep)

The tmpfs volume (rather than ``--tmpfs``) is what lets the archive API see the working
directory on Docker 20.10, and its pages are charged to the container's memory cgroup.
"""

from __future__ import annotations

import io
import itertools
import os
import tarfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any

from promptkiln.errors import (
    EngineError,
    ImageError,
    SandboxError,
    UsageError,
)
from promptkiln.sandbox.base import (
    HOME,
    INPUTS_DIR,
    SCRIPT_PATH,
    WORKDIR,
    CapturedStream,
    InputFile,
    Limits,
    MiB,
    OutputEntry,
    RunResult,
    SandboxInfo,
    Termination,
)
from promptkiln.sandbox.docker_engine import (
    LABEL_RUN,
    connect,
    reap,
    run_labels,
    sweep_in_background,
    translate_errors,
)
from promptkiln.sandbox.docker_parts import (
    INIT_UID,
    UID,
    StreamReader,
    capped,
    host_pids,
    interrupts_deferred,
    no_log,
    tarinfo,
    ulimits,
)
from promptkiln.sandbox.docker_warm import WARM_PROGRAM, WarmExec
from promptkiln.sandbox.syscall_guard import guarded

if TYPE_CHECKING:
    import docker

    from promptkiln.config import Settings

#: How long closing a sandbox waits for the start-up sweep of dead runs' leftovers to finish.
SWEEP_WAIT_S = 10.0
#: Size of the /tmp tmpfs. Counted against the memory limit like every tmpfs page.
TMP_BYTES = 64 * MiB
#: Inodes of the working directory's tmpfs: empty files cost no bytes, only inodes.
VOLUME_INODES = 262_144
#: Room over the scratch size for tar headers, padding and long-name records in the output
#: archive. Real file data cannot exceed the scratch size, so a longer archive means sparse files.
ARCHIVE_SLACK = 64 * MiB
#: Environment inside the sandbox. Nothing from the host's environment is passed in.
SANDBOX_ENV = {
    "HOME": HOME,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "Agg",
    "TMPDIR": "/tmp",
}


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
            self._volume = client.volumes.create(
                name=name,
                driver="local",
                driver_opts={
                    "type": "tmpfs",
                    "device": "tmpfs",
                    "o": (
                        f"size={self.limits.disk_bytes},nr_inodes={VOLUME_INODES},"
                        f"uid={UID},gid={UID},mode=0700,nosuid,nodev"
                    ),
                },
                labels=labels,
            )
            kwargs: dict[str, Any] = {}
            if self.runtime:
                kwargs["runtime"] = self.runtime
            self._container = client.containers.create(
                image.id,
                command=["sleep", "infinity"],
                name=name,
                init=True,
                user=f"{INIT_UID}:{INIT_UID}",
                working_dir="/",
                environment=dict(SANDBOX_ENV),
                network_mode="none",
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                pids_limit=host_pids(self.limits.pids, self.runtime),
                mem_limit=self.limits.memory_bytes,
                memswap_limit=self.limits.memory_bytes,
                nano_cpus=int(self.limits.cpus * 1e9),
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={TMP_BYTES},mode=1777"},
                volumes={name: {"bind": HOME, "mode": "rw"}},
                labels=labels,
                hostname="sandbox",
                ipc_mode="private",
                ulimits=ulimits(self.limits.disk_bytes, self.limits.pids, self.runtime),
                log_config=no_log(),
                detach=True,
                **kwargs,
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

    def _remove_all(self) -> None:
        import docker.errors
        import requests.exceptions

        self._hang_up()

        gone = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)
        client = self._client
        assert client is not None
        try:
            if self._container is not None:
                if self._paused:
                    # gVisor cannot kill a frozen sandbox: the engine waits 10 s and then gives
                    # up on the signal. Thaw it (the outputs are already out) and kill at once.
                    with suppress(docker.errors.APIError):
                        self._container.unpause()
                with suppress(docker.errors.NotFound):
                    self._container.remove(force=True, v=True)
            flt: dict[str, Any] = {"label": f"{LABEL_RUN}={self.run_id}"}
            for container in client.containers.list(all=True, filters=flt):
                with suppress(docker.errors.NotFound):
                    container.remove(force=True, v=True)
            volumes = [self._volume] if self._volume is not None else []
            volumes += [v for v in client.volumes.list(filters=flt) if v not in volumes]
            for volume in volumes:
                for _ in range(20):
                    try:
                        volume.remove(force=True)
                        break
                    except docker.errors.NotFound:
                        break
                    except docker.errors.APIError:
                        time.sleep(0.1)  # "volume in use" while the container is going away
        except gone:
            pass  # the engine is gone or refuses: the next sweep finds the rest by label

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
        total = len(script) + sum(len(f.data) for f in files)
        if total > self.limits.disk_bytes // 2:
            raise UsageError(
                f"the inputs add up to {total / MiB:.1f} MiB, more than half the sandbox's "
                f"{self.limits.disk_bytes / MiB:.0f} MiB scratch space",
                hint="raise the disk limit (PROMPTKILN_LIMITS__DISK or [limits] disk) or pass fewer inputs",
            )
        buf = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            home_rel = WORKDIR.removeprefix(HOME + "/")
            script_rel = SCRIPT_PATH.removeprefix(HOME + "/")
            for dirname in (home_rel, f"{home_rel}/{INPUTS_DIR}", os.path.dirname(script_rel)):
                tar.addfile(tarinfo(dirname, tarfile.DIRTYPE, 0o755, 0, now))
            for f in files:
                info = tarinfo(
                    f"{home_rel}/{INPUTS_DIR}/{f.name}", tarfile.REGTYPE, 0o644, len(f.data), now
                )
                tar.addfile(info, io.BytesIO(f.data))
            tar.addfile(
                tarinfo(script_rel, tarfile.REGTYPE, 0o644, len(script), now), io.BytesIO(script)
            )
        t0 = time.monotonic()
        with translate_errors("copying inputs into the sandbox"):
            ok = self._container.put_archive(HOME, buf.getvalue())
        self.steps["inputs_s"] = time.monotonic() - t0
        if not ok:
            raise EngineError("the Docker engine did not accept the input files")

    # -- run ---------------------------------------------------------------------------------

    def run(self, argv: Sequence[str], *, timeout_s: float) -> RunResult:
        import docker.errors

        api = self.client.api
        started = time.monotonic()
        warm, self._warm = self._warm, None
        with translate_errors("running the script"):
            if warm is not None and len(argv) >= 2 and argv[0] == "python3":
                exec_id, stream = warm.exec_id, warm.go(argv[1:], WORKDIR)
                closer: Any = warm
            else:
                if warm is not None:
                    warm.close()  # not a Python script: the interpreter exits unused
                exec_id = api.exec_create(
                    self._container.id,
                    self._guard(list(argv)),
                    stdout=True,
                    stderr=True,
                    user=f"{UID}:{UID}",
                    workdir=WORKDIR,
                    environment=dict(SANDBOX_ENV),
                )["Id"]
                stream = closer = api.exec_start(exec_id, stream=True, demux=True)
        reader = StreamReader(stream, self.limits.log_bytes)
        reader.start()
        termination = Termination.EXITED
        exit_code: int | None = None
        deadline = started + timeout_s
        try:
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
                            and not self._container_running()
                        )
                    except docker.errors.NotFound:
                        gone = True  # the exec went with its sandbox
                if gone:
                    reader.join(timeout=0.5)
                    break  # exit_code stays None; _why_ended() says what happened
                if not state.get("Running") and (
                    not reader.is_alive() or state.get("ExitCode") is not None
                ):
                    exit_code = state.get("ExitCode")
                    # Orphans may still hold stdout open: give the pipe a moment, then stop.
                    reader.join(timeout=0.5)
                    break
                if time.monotonic() >= deadline:
                    termination = Termination.TIMEOUT
                    self._kill()
                    break
        finally:
            closer.close()
            reader.join(timeout=2)
        self.steps["run_s"] = time.monotonic() - started
        if termination is Termination.EXITED and exit_code != 0:
            termination = self._why_ended(exit_code)
        return RunResult(
            exit_code=exit_code,
            stdout=CapturedStream(bytes(reader.out), reader.dropped[0]),
            stderr=CapturedStream(bytes(reader.err), reader.dropped[1]),
            duration_s=time.monotonic() - started,
            termination=termination,
        )

    def _container_running(self) -> bool:
        import docker.errors

        try:
            info = self.client.api.inspect_container(self._container.id)
        except docker.errors.NotFound:
            return False
        return bool(info.get("State", {}).get("Running"))

    def _kill(self) -> None:
        import docker.errors

        self._dead = True
        with suppress(docker.errors.DockerException):
            self._container.kill()

    def _why_ended(self, exit_code: int | None) -> Termination:
        """The script ended badly: was it the memory limit, or did the sandbox itself stop?

        Under gVisor a memory or process bomb takes the whole sandbox down (the runtime is one
        process in the container's cgroup), so the exec vanishes rather than failing."""
        if self._oom_killed(exit_code):
            return Termination.MEMORY
        import docker.errors

        with translate_errors("inspecting the sandbox"):
            try:
                self._container.reload()
            except docker.errors.NotFound as exc:
                raise SandboxError(
                    "the sandbox was removed while the script ran",
                    hint="something else removed it (`promptkiln gc --all`?); run again",
                ) from exc
        state = self._container.attrs.get("State", {})
        if state.get("Status") in ("running", "paused"):
            return Termination.EXITED  # an ordinary non-zero exit
        if state.get("OOMKilled"):
            return Termination.MEMORY
        self._dead = True
        raise SandboxError(
            f"the sandbox stopped while the script ran (its init exited with status "
            f"{state.get('ExitCode')}, runtime {self.info.runtime})",
            hint="the script may have hit the process limit (under gVisor a fork bomb ends the "
            "whole sandbox) or signalled the sandbox's init; fix the script and run again",
        )

    def _oom_killed(self, exit_code: int | None) -> bool:
        """Did the memory cgroup's OOM killer act during this run?

        Asked of the engine's event log, not of ``State.OOMKilled``: that flag is only set when
        PID 1 dies of it, and here the killed process is the exec'd script (or one of its
        children, after which the script may exit with any status)."""
        if exit_code == 0:
            return False
        api = self.client.api
        for attempt in range(3):
            with translate_errors("inspecting the sandbox"):
                events = api.events(
                    since=self._started_at - 1,
                    until=int(time.time()) + 1,
                    filters={"container": self._container.id, "event": "oom"},
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

    # -- files out ---------------------------------------------------------------------------

    def outputs(self) -> Iterator[OutputEntry]:
        """Freeze every process (orphans included), then stream the working directory out."""
        import docker.errors

        from promptkiln.sandbox.tarentries import tar_entries

        if self._dead:
            return
        t0 = time.monotonic()
        refused: Exception | None = None
        with translate_errors("stopping the sandbox's processes"):
            for attempt in range(3):
                try:  # one round trip when the sandbox runs, as it almost always does
                    self._container.pause()
                    self._paused = True
                    break
                except docker.errors.APIError as exc:
                    self._container.reload()  # not running: paused already, or gone
                    if self._container.status != "running" or attempt == 2:
                        refused = exc
                        break
                    time.sleep(0.2)  # a busy engine can refuse a pause for a moment
            if not self._paused and self._container.status == "running":
                raise EngineError(f"the Docker engine could not pause the sandbox: {refused}")
            if not self._paused and self._container.status != "paused":
                raise SandboxError(
                    f"the sandbox stopped unexpectedly (state {self._container.status})",
                    hint="run again; if it repeats, check `promptkiln doctor`",
                )
        self.steps["pause_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        with translate_errors("copying outputs out of the sandbox"):
            chunks, _stat = self._container.get_archive(WORKDIR)
            self._archive = chunks
            try:
                yield from tar_entries(
                    capped(chunks, self.limits.disk_bytes + ARCHIVE_SLACK),
                    strip_prefix=os.path.basename(WORKDIR) + "/",
                    skip_dirs=(INPUTS_DIR,),
                    max_entries=self.limits.output_files * 4 + 64,
                )
            finally:
                self._hang_up()
                self.steps["archive_s"] = time.monotonic() - t0


def create(settings: Settings, run_id: str) -> DockerSandbox:
    """Registry factory for the ``docker`` backend: a cold sandbox, started when the job needs
    it (warm ones come from :class:`promptkiln.sandbox.pool.SandboxPool`)."""
    return DockerSandbox(settings, run_id)


__all__ = ["DockerSandbox", "connect", "create", "reap", "sweep_in_background", "translate_errors"]
