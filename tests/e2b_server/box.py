"""One fake E2B sandbox: a locked-down Docker container that envd's calls are played against.

The container runs ``sleep infinity`` as root, standing in for envd (which runs as root inside a
real E2B VM). Everything the SDK asks for is done with ``docker exec`` as the requesting user
(``user`` = uid 1000 by default), and files move with the archive API. ``/home/user`` is a
tmpfs-backed named volume, so the archive API can reach it while the root filesystem stays
read-only. Capabilities: all dropped except SETUID/SETGID, which root needs to switch to the user
(envd does the same); the user's processes never hold any capability (no-new-privileges).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import shlex
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import docker.types

LABEL = "promptkiln.test"
LABEL_VALUE = "e2b-fake"
LABEL_FAKE = "promptkiln.test.fake"  #: which FakeE2B instance made it
LABEL_PID = "promptkiln.test.pid"  #: the test process that owns that instance
HOME = "/home/user"

USERS = {"user": "1000:1000", "root": "0:0"}

# One record per entry, eight NUL-terminated fields; names can hold anything but NUL.
_FIND_FORMAT = r"%y\0%Y\0%s\0%m\0%u\0%g\0%T@\0%l\0%p\0"
_FIELDS = 9  # %y %Y %s %m %u %g %T@ %l %p


class BoxError(Exception):
    """An envd-level failure: ``kind`` is "not_found", "invalid", "exists" or "internal"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Entry:
    name: str
    path: str
    kind: str  # find's %y letter for the entry itself: f d l p s c b
    target_kind: str  # %Y: the type of what a symlink points at (N: nothing, L: loop)
    size: int
    mode: int
    owner: str
    group: str
    mtime: float
    link_target: str


@dataclass
class Proc:
    """A process started through envd's Start: its output arrives on ``events``."""

    pid: int
    user: str
    cmd: str
    args: list[str]
    envs: dict[str, str]
    cwd: str | None
    tag: str | None
    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    done: threading.Event = field(default_factory=threading.Event)


def _local() -> docker.APIClient:
    holder = _CLIENTS.__dict__
    if "api" not in holder:
        holder["api"] = docker.APIClient(version="auto", timeout=120)
    api: docker.APIClient = holder["api"]
    return api


_CLIENTS = threading.local()


class Box:
    def __init__(
        self,
        image: str,
        sandbox_id: str,
        *,
        env: dict[str, str],
        owner: str = "",
        memory: str = "1g",
        pids: int = 512,
        home_size: str = "256m",
        kernel: bool = False,
    ) -> None:
        self.image = image
        self.sandbox_id = sandbox_id
        self.env = dict(env)
        self.memory = memory
        self.pids = pids
        self.home_size = home_size
        self.owner = owner
        #: A code-interpreter sandbox: a warm kernel runs as root (tests/e2b_server/jupyter.py).
        self.kernel = kernel
        self.container_id: str | None = None
        self.volume = f"pkfake-{sandbox_id}"
        self.procs: dict[int, Proc] = {}
        self._lock = threading.Lock()
        self.dead = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        api = _local()
        labels = {
            LABEL: LABEL_VALUE,
            LABEL_FAKE: self.owner,
            LABEL_PID: str(os.getpid()),
            "promptkiln.test.sandbox": self.sandbox_id,
        }
        api.create_volume(
            name=self.volume,
            driver="local",
            driver_opts={
                "type": "tmpfs",
                "device": "tmpfs",
                "o": f"size={self.home_size},uid=1000,gid=1000,mode=0755",
            },
            labels=labels,
        )
        host_config = api.create_host_config(
            read_only=True,
            network_mode="none",
            cap_drop=["ALL"],
            # The code-interpreter template's kernel is root, who in a real VM may write in
            # /home/user (owned by the user): root gets what that takes, users get nothing.
            cap_add=["SETUID", "SETGID"]
            + (["DAC_OVERRIDE", "FOWNER", "CHOWN"] if self.kernel else []),
            security_opt=["no-new-privileges"],
            init=True,
            tmpfs={"/tmp": "size=64m,mode=1777"},
            mounts=[docker.types.Mount(target=HOME, source=self.volume, type="volume")],
            pids_limit=self.pids,
            mem_limit=self.memory,
        )
        container = api.create_container(
            self.image,
            command=["sleep", "infinity"],
            user="0:0",
            working_dir="/",
            host_config=host_config,
            labels=labels,
            environment=self.env,
            name=f"pkfake-{self.sandbox_id}",
        )
        self.container_id = container["Id"]
        api.start(self.container_id)
        code, out = self.exec_simple(["mkdir", "-p", f"{HOME}/work"], user="user")
        if code != 0:
            raise BoxError("internal", f"cannot prepare the home directory: {out!r}")
        if self.kernel:
            from .jupyter import start_kernel

            start_kernel(self)

    def api(self) -> docker.APIClient:
        return _local()

    def destroy(self) -> None:
        self.dead = True
        api = _local()
        if self.container_id is not None:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_container(self.container_id, force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_volume(self.volume, force=True)
        for proc in list(self.procs.values()):
            proc.events.put(("gone", None))

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
    ) -> Proc:
        """Start a process; returns once its pid is known. Output is pumped by a thread."""
        api = _local()
        # The wrapper prints its pid on a line of its own, then becomes the command.
        wrapped = ["/bin/sh", "-c", 'echo "$$"; exec "$0" "$@"', cmd, *args]
        exec_id = api.exec_create(
            self.container_id,
            wrapped,
            user=USERS[user],
            workdir=cwd or (HOME if user == "user" else "/root"),
            environment={**self.env, **envs},
        )
        stream = api.exec_start(exec_id, stream=True, demux=True)
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
        proc = Proc(int(pid_text), user, cmd, list(args), dict(envs), cwd, tag)
        for item in pending:
            proc.events.put(item)
        with self._lock:
            self.procs[proc.pid] = proc

        def pump() -> None:
            try:
                for out, err in stream:
                    if out:
                        proc.events.put(("stdout", out))
                    if err:
                        proc.events.put(("stderr", err))
                code = None if self.dead else _local().exec_inspect(exec_id)["ExitCode"]
                if self.dead:  # the VM went away: envd's stream breaks, there is no end event
                    proc.events.put(("gone", "sandbox killed"))
                else:
                    proc.events.put(("end", int(code) if code is not None else -1))
            except Exception as exc:  # the container went away under us
                proc.events.put(("gone", str(exc)))
            finally:
                with self._lock:
                    self.procs.pop(proc.pid, None)
                proc.done.set()

        threading.Thread(target=pump, name=f"fake-envd-{proc.pid}", daemon=True).start()
        return proc

    def signal(self, pid: int, signal: str) -> bool:
        proc = self.procs.get(pid)
        if proc is None:
            return False
        code, _ = self.exec_simple(["kill", "-s", signal, str(pid)], user=proc.user)
        return code == 0

    # -- filesystem --------------------------------------------------------------------------
    def _find(self, script: str, *argv: str, user: str) -> list[Entry]:
        code, out = self.exec_simple(["/bin/bash", "-c", script, "find-entries", *argv], user=user)
        if code == 3:
            raise BoxError("not_found", f"path not found: {argv[0]}")
        if code == 4:
            raise BoxError("invalid", f"path is not a directory: {argv[0]}")
        if code != 0:
            raise BoxError("internal", f"error reading {argv[0]}: {out[-300:]!r}")
        fields = out.split(b"\0")
        entries = []
        for i in range(0, len(fields) - 1, _FIELDS):
            y, yy, size, mode, owner, group, mtime, link, path = fields[i : i + _FIELDS]
            try:
                # Go's protojson refuses to marshal a string that is not UTF-8; so does envd.
                path_text = path.decode("utf-8")
                link_text = link.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BoxError("internal", f"string field contains invalid UTF-8: {exc}") from exc
            entries.append(
                Entry(
                    name=path_text.rsplit("/", 1)[-1],
                    path=path_text,
                    kind=y.decode(),
                    target_kind=yy.decode(),
                    size=int(size),
                    mode=int(mode, 8) & 0o777,
                    owner=owner.decode(errors="replace"),
                    group=group.decode(errors="replace"),
                    mtime=float(mtime),
                    link_target=link_text,
                )
            )
        return entries

    def list_dir(self, path: str, depth: int, *, user: str) -> list[Entry]:
        script = (
            'p=$(readlink -e -- "$1") || exit 3; [ -d "$p" ] || exit 4; '
            f'exec find "$p" -mindepth 1 -maxdepth "$2" -printf \'{_FIND_FORMAT}\''
        )
        return self._find(script, path, str(depth), user=user)

    def stat(self, path: str, *, user: str) -> Entry:
        script = (
            '[ -e "$1" ] || [ -L "$1" ] || exit 3; '
            f"exec find \"$1\" -maxdepth 0 -printf '{_FIND_FORMAT}'"
        )
        entries = self._find(script, path, user=user)
        return entries[0]

    def make_dir(self, path: str, *, user: str) -> Entry:
        try:
            entry = self.stat(path, user=user)
        except BoxError as exc:
            if exc.kind != "not_found":
                raise
        else:
            if entry.kind == "d":
                raise BoxError("exists", f"directory already exists: {path}")
            raise BoxError("invalid", f"path already exists but it is not a directory: {path}")
        code, out = self.exec_simple(["mkdir", "-p", "--", path], user=user)
        if code != 0:
            raise BoxError("internal", f"error creating directory: {out[-300:]!r}")
        return self.stat(path, user=user)

    def remove(self, path: str, *, user: str) -> None:
        code, out = self.exec_simple(["rm", "-rf", "--", path], user=user)
        if code != 0:
            raise BoxError("internal", f"error removing file or directory: {out[-300:]!r}")

    def write_file(self, path: str, data: bytes, *, user: str) -> None:
        if not path.startswith(HOME + "/"):
            raise BoxError("invalid", f"the fake envd can only write under {HOME}: {path}")
        parent, _, name = path.rpartition("/")
        code, out = self.exec_simple(["mkdir", "-p", "--", parent], user=user)
        if code != 0:
            raise BoxError("internal", f"error creating parent directory: {out[-300:]!r}")
        uid = int(USERS[user].split(":")[0])
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.time())
            info.uid = info.gid = uid
            tar.addfile(info, io.BytesIO(data))
        try:
            _local().put_archive(self.container_id, parent, buf.getvalue())
        except docker.errors.APIError as exc:
            raise BoxError("internal", f"error writing file: {exc}") from exc

    def read_file(self, path: str, *, user: str, _depth: int = 0) -> tuple[int, Iterator[bytes]]:
        """Return the size and the bytes of a regular file, following symlinks as envd does."""
        api = _local()
        try:
            chunks, stat = api.get_archive(self.container_id, path, chunk_size=64 * 1024)
        except docker.errors.NotFound as exc:
            raise BoxError("not_found", f"file not found: {path}") from exc
        except docker.errors.APIError as exc:
            raise BoxError("internal", f"error reading file: {exc}") from exc
        mode = int(stat.get("mode", 0))
        if stat.get("linkTarget") and _depth < 8:
            _close(chunks)
            code, out = self.exec_simple(["readlink", "-e", "--", path], user=user)
            if code != 0:
                raise BoxError("not_found", f"file not found: {path}")
            return self.read_file(out.decode().rstrip("\n"), user=user, _depth=_depth + 1)
        if mode & (1 << 31):  # Go's os.ModeDir
            _close(chunks)
            raise BoxError("invalid", f"path is a directory: {path}")
        tar = tarfile.open(fileobj=_ChunkReader(chunks), mode="r|")  # noqa: SIM115 - closed with the response
        member = tar.next()
        if member is None or not member.isreg():
            _close(chunks)
            raise BoxError("invalid", f"path is not a regular file: {path}")
        handle = tar.extractfile(member)
        assert handle is not None

        def body() -> Iterator[bytes]:
            try:
                while True:
                    block = handle.read(64 * 1024)
                    if not block:
                        return
                    yield block
            finally:
                _close(chunks)

        return member.size, body()


def _close(chunks: Any) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def new_id() -> str:
    return "i" + uuid.uuid4().hex[:19]


def quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
