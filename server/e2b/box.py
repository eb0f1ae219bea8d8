"""One sandbox: a locked-down Docker container that envd's calls are played against.

The container's first process is a watchdog (bash, as root, under tini) that ends the
container at the deadline kept in ``/run/pk/deadline``, a root-only tmpfs: the sandbox dies at
its timeout even while no server runs, and ``auto_remove`` then removes it with its anonymous
``/home/user`` volume. The sandbox's own state (tenant, template, metadata, access token) is kept
beside it in ``/run/pk/state``, so a restarted server adopts its live sandboxes again.

Everything the SDK asks for is done with ``docker exec`` as the requesting user (``user`` = uid
1000 by default), and files move with the archive API (boxfiles.py). ``/home/user`` is a
tmpfs-backed anonymous volume, so the archive API can reach it while the root filesystem stays
read-only. Capabilities: all dropped except SETUID/SETGID, which root needs to switch to the
user (envd does the same); the user's processes never hold any (no-new-privileges). The
code-interpreter kernel runs as the user too. No network unless the owner may allow it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import docker.types

from promptkiln.server.e2b.box_proc import Proc, demuxed

# Labels of their own: the Docker backend reaps ``promptkiln.kind`` containers of dead owners,
# and a served sandbox outlives its server (the next one adopts it).
LABEL_KIND = "promptkiln.e2b.kind"
KIND = "sandbox"
LABEL_SERVER = "promptkiln.e2b.server"  #: which server (home) made it
LABEL_PID = "promptkiln.e2b.owner-pid"
LABEL_HOST = "promptkiln.e2b.owner-host"
LABEL_SANDBOX = "promptkiln.e2b.sandbox"
LABEL_KERNEL = "promptkiln.e2b.kernel"
HOME = "/home/user"
STATE_DIR = "/run/pk"

USERS = {"user": "1000:1000", "root": "0:0"}

#: The container's first process: wait for the deadline, then end (and so the container). It
#: starts no child (a read with a timeout on its own FIFO is its sleep), so a sweep of the
#: sandbox's processes (promptkiln's E2B backend) never meets a new one. A deadline file it
#: cannot read (or reads empty) keeps the deadline it had: a sandbox never ends early.
WATCHDOG = (
    f'n=$1; printf "%s\\n" "$n" > {STATE_DIR}/deadline; mkfifo {STATE_DIR}/tick; '
    f"exec 9<>{STATE_DIR}/tick; "
    f"while {{ read -r m < {STATE_DIR}/deadline && [[ $m =~ ^[0-9]+$ ]] && n=$m; }}; "
    "(( EPOCHSECONDS < n )); do read -rt 1 -u 9; done"
)


class BoxError(Exception):
    """An envd-level failure: ``kind`` is "not_found", "invalid", "exists" or "internal"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class BoxSpec:
    """How a sandbox's container is made: image, runtime and limits."""

    image: str
    runtime: str = ""
    memory: int = 1024 * 2**20
    cpus: float = 2.0
    pids: int = 512
    home_size: str = "256m"


def _local() -> Any:
    """This thread's Docker API client (typed ``Any``: its stubs' exec overloads do not fit
    ids passed through)."""
    holder = _CLIENTS.__dict__
    if "api" not in holder:
        holder["api"] = docker.APIClient(version="auto", timeout=120)
    return holder["api"]


_CLIENTS = threading.local()


class Box:
    def __init__(
        self,
        spec: BoxSpec,
        sandbox_id: str,
        *,
        server: str,
        kernel: bool = False,
        network: bool = False,
        container_id: str | None = None,
    ) -> None:
        self.spec = spec
        self.sandbox_id = sandbox_id
        self.server = server
        self.env: dict[str, str] = {}
        #: A code-interpreter sandbox: a warm kernel runs as the user (kernel.py).
        self.kernel = kernel
        self.network = network
        self.container_id = container_id
        self.procs: dict[int, Proc] = {}
        #: Code-interpreter contexts: id -> working directory.
        self.contexts: dict[str, str] = {}
        self._lock = threading.Lock()
        self.dead = False

    @property
    def image(self) -> str:
        return self.spec.image

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, deadline: float, extra_labels: dict[str, str] | None = None) -> None:
        api = _local()
        labels = {
            LABEL_KIND: KIND,
            LABEL_SERVER: self.server,
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
            LABEL_SANDBOX: self.sandbox_id,
            LABEL_KERNEL: "1" if self.kernel else "0",
            **(extra_labels or {}),
        }
        home = docker.types.Mount(
            target=HOME,
            source=None,
            type="volume",
            driver_config=docker.types.DriverConfig(
                "local",
                {
                    "type": "tmpfs",
                    "device": "tmpfs",
                    "o": f"size={self.spec.home_size},uid=1000,gid=1000,mode=0755",
                },
            ),
        )
        host_config = api.create_host_config(
            read_only=True,
            network_mode="bridge" if self.network else "none",
            cap_drop=["ALL"],
            cap_add=["SETUID", "SETGID"],
            security_opt=["no-new-privileges"],
            init=True,
            auto_remove=True,
            tmpfs={"/tmp": "size=64m,mode=1777", STATE_DIR: "size=1m,mode=0700"},
            mounts=[home],
            pids_limit=self.spec.pids,
            mem_limit=self.spec.memory,
            nano_cpus=int(self.spec.cpus * 1e9),
            runtime=self.spec.runtime or None,
        )
        container = api.create_container(
            self.spec.image,
            command=["/bin/bash", "-c", WATCHDOG, "watchdog", str(int(deadline))],
            user="0:0",
            working_dir="/",
            host_config=host_config,
            labels=labels,
            name=f"pk-e2b-{self.sandbox_id}",
        )
        self.container_id = container["Id"]
        api.start(self.container_id)
        code, out = self.exec_simple(["mkdir", "-p", f"{HOME}/work"], user="user")
        if code != 0:
            self.destroy()
            raise BoxError("internal", f"cannot prepare the home directory: {out!r}")

    def save(self, state: dict[str, Any], deadline: float) -> None:
        """Keep ``state`` and the deadline in the sandbox's root-only state directory."""
        # Each file is written aside and renamed over the old one: the watchdog, a load, or a
        # save killed halfway (a sweep of the sandbox's processes) never sees half a file.
        d = STATE_DIR
        script = (
            f'printf %s "$1" > {d}/state.new && mv -f {d}/state.new {d}/state && '
            f'printf "%s\\n" "$2" > {d}/deadline.new && mv -f {d}/deadline.new {d}/deadline'
        )
        code, out = self.exec_simple(
            ["/bin/sh", "-c", script, "save", json.dumps(state), str(int(deadline) + 1)],
            user="root",
        )
        if code != 0:
            raise BoxError("internal", f"cannot keep the sandbox's state: {out[-200:]!r}")

    def load(self) -> tuple[dict[str, Any], float]:
        """The state and deadline :meth:`save` kept (a pooled box has no state yet: ``{}``)."""
        _, out = self.exec_simple(
            ["/bin/sh", "-c", f"cat {STATE_DIR}/deadline; echo; cat {STATE_DIR}/state"],
            user="root",
        )
        deadline, _, state = out.decode(errors="replace").partition("\n")
        try:
            return (json.loads(state) if state.strip() else {}), float(deadline or 0)
        except ValueError:
            return {}, 0.0

    def running(self) -> bool:
        """Whether the container still runs (it ends by itself at its deadline)."""
        if self.dead or self.container_id is None:
            return False
        try:
            state = _local().inspect_container(self.container_id)["State"]
        except docker.errors.NotFound:
            return False
        return bool(state.get("Running"))

    def destroy(self) -> None:
        self.dead = True
        if self.container_id is not None:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                _local().remove_container(self.container_id, force=True, v=True)
        for proc in list(self.procs.values()):
            proc.emit("gone", None)

    def api(self) -> Any:
        return _local()

    # -- processes ---------------------------------------------------------------------------
    def exec_simple(self, argv: list[str], *, user: str, workdir: str = "/") -> tuple[int, bytes]:
        api = _local()
        exec_id = api.exec_create(self.container_id, argv, user=USERS[user], workdir=workdir)
        out = api.exec_start(exec_id)
        code = api.exec_inspect(exec_id)["ExitCode"]
        return int(code if code is not None else -1), out if isinstance(out, bytes) else b""

    def start_process(
        self,
        cmd: str,
        args: list[str],
        *,
        user: str,
        envs: dict[str, str],
        cwd: str | None,
        tag: str | None,
        stdin: bool = False,
    ) -> Proc:
        """Start a process; returns once its pid is known. Output is pumped by a thread. With
        ``stdin`` its stdin stays open for :meth:`Proc.write` until :meth:`Proc.close_stdin`."""
        api = _local()
        # The wrapper prints its pid on a line of its own, then becomes the command.
        wrapped = ["/bin/sh", "-c", 'echo "$$"; exec "$0" "$@"', cmd, *args]
        exec_id = api.exec_create(
            self.container_id,
            wrapped,
            user=USERS[user],
            workdir=cwd or (HOME if user == "user" else "/root"),
            environment={"HOME": HOME if user == "user" else "/root", **self.env, **envs},
            stdin=stdin,
        )
        writer = None
        if stdin:  # a hijacked connection: frames of stdout/stderr out, raw bytes in
            sock = api.exec_start(exec_id, socket=True)
            writer = getattr(sock, "_sock", sock)
            stream: Iterator[tuple[bytes | None, bytes | None]] = demuxed(sock)
        else:
            stream = iter(api.exec_start(exec_id, stream=True, demux=True))
        pid_line = b""
        pending: list[tuple[str, bytes]] = []
        for out, err in stream:
            if err:
                pending.append(("stderr", err))
            if out:
                pid_line += out
                if b"\n" in pid_line:
                    pid_text, _, rest = pid_line.partition(b"\n")
                    if rest:
                        pending.append(("stdout", rest))
                    break
        else:
            code = api.exec_inspect(exec_id)["ExitCode"]
            raise BoxError("internal", f"process did not start (exit {code}): {pending!r}")
        proc = Proc(int(pid_text), user, cmd, list(args), dict(envs), cwd, tag, stdin=writer)
        for kind, value in pending:
            proc.emit(kind, value)
        with self._lock:
            self.procs[proc.pid] = proc

        def pump() -> None:
            try:
                for out, err in stream:
                    if out:
                        proc.emit("stdout", out)
                    if err:
                        proc.emit("stderr", err)
                code = None if self.dead else _local().exec_inspect(exec_id)["ExitCode"]
                if self.dead:  # the VM went away: envd's stream breaks, there is no end event
                    proc.emit("gone", "sandbox killed")
                else:
                    proc.emit("end", int(code) if code is not None else -1)
            except Exception as exc:  # the container went away under us
                proc.emit("gone", str(exc))
            finally:
                with self._lock:
                    self.procs.pop(proc.pid, None)
                if writer is not None:
                    with contextlib.suppress(OSError):
                        writer.close()
                proc.done.set()

        threading.Thread(target=pump, name=f"e2b-envd-{proc.pid}", daemon=True).start()
        return proc

    def signal(self, pid: int, signal: str) -> bool:
        proc = self.procs.get(pid)
        if proc is None:
            return False
        # The image has no /bin/kill: the shell's builtin it is.
        code, _ = self.exec_simple(
            ["/bin/sh", "-c", 'kill -s "$1" "$2"', "kill", signal, str(pid)], user=proc.user
        )
        return code == 0


def new_id() -> str:
    return "i" + uuid.uuid4().hex[:19]


def running(server: str | None = None) -> Iterator[dict[str, Any]]:
    """The E2B sandboxes' containers (of one server, or every one)."""
    filters = [f"{LABEL_KIND}={KIND}"]
    if server is not None:
        filters.append(f"{LABEL_SERVER}={server}")
    yield from _local().containers(all=True, filters={"label": filters})
