"""promptkiln's warm interpreter: a Python that has already imported the document stack and
waits for one job, then runs it exactly as ``python3 SCRIPT ARGS...`` would.

Started by the Docker backend (``docker exec``, as the sandbox user, in a sandbox no job has
touched) with its stdin attached. It imports the heavy modules with stdout and stderr pointed
at /dev/null, writes :data:`READY` to stdout and blocks on stdin. The host sends one line, a
JSON object::

    {"argv": [SCRIPT, ARGS...], "cwd": DIR,
     "dirs": [DIR...], "files": [[PATH, BASE64], ...], "mtime": SECONDS,   # optional
     "out": {"token": HEX, "dir": WORKDIR, "skip": ["inputs"], "cap": BYTES,
             "max_entries": N, "max_dirs": N}}  # optional

``dirs`` and ``files`` are the job's script and small inputs, written here (mode 0755 and
0644, as the input archive of a cold sandbox writes them) instead of by a separate copy into
the sandbox. Then stdin becomes /dev/null (as for a plain exec), and the script runs as
``__main__`` in a fresh module with a fresh globals dict, ``sys.argv``, ``sys.path[0]`` and the
working directory set as Python sets them for a script. An uncaught exception prints its
traceback (without this file's frame) and exits 1; ``sys.exit`` and ``os._exit`` behave as
ever, because this process *is* the script's process.

``out`` asks for the working directory back on the same stream once the script has ended on
its own: every other process of the sandbox user is killed (so nothing writes while the tree
is read; the sandbox's PID 1 is another user's), stdout and stderr are pointed at /dev/null,
then a marker ``NUL promptkiln-outputs:TOKEN NUL`` and a tar of ``dir`` (without ``skip``) in
frames of a 4-byte big-endian length and data, a zero length ending it, go to the original
stdout. The tar stops after ``cap`` + 1 bytes, or one entry past ``max_entries`` files or
``max_dirs`` directories: the host reads no further than that, and its own caps then say so
(the cold path's engine archive is cut off at the same points). Anything
unexpected (an unreadable file, a process that will not die) ends the stream without its last
frame, and the host reads the directory itself, as it does for a cold sandbox. None of this is
trusted by the host: the script could have replaced any of it, and what it sends passes the
same caps and collection rules as the engine's archive.

Nothing is reused: the process ends with the job, and the sandbox is destroyed after it.
"""

import base64
import builtins
import contextlib
import gc
import json
import os
import signal
import stat
import sys
import tarfile
import time
import types

#: The ready line names the protocol: 2 takes files on the job line and sends outputs back
#: (an image built before that wrote "promptkiln-warm-ready" alone, and the host then sends
#: neither).
READY = b"promptkiln-warm-ready 2\n"
#: What the templates tell models to use. A module that fails to import is skipped.
MODULES = (
    "matplotlib",
    "matplotlib.pyplot",
    "numpy",
    "pandas",
    "PIL.Image",
    "reportlab.lib.pagesizes",
    "reportlab.pdfgen.canvas",
    "reportlab.platypus",
    "openpyxl",
    "docx",
    "pptx",
)
#: How long the other processes of the sandbox user may take to die before the host is left
#: to read the directory itself.
KILL_WAIT_S = 2.0
FRAME_BYTES = 256 * 1024


def _warm() -> None:
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        for name in MODULES:
            with contextlib.suppress(Exception):
                __import__(name)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)


def _job() -> dict:
    parts = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            os._exit(0)  # the host went away before the job came: nothing ran
        parts.append(chunk)
        if chunk.endswith(b"\n"):
            break
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    line = b"".join(parts)
    del parts
    return json.loads(line)


def _place(spec: dict) -> None:
    """Write the job's directories and files, as the cold path's input archive does."""
    for path in spec.get("dirs", ()):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
    mtime = spec.get("mtime")
    for path, data in spec.get("files", ()):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(data))
        os.chmod(path, 0o644)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    spec.pop("files", None)


def _run(argv: list, cwd: str, out: "dict | None") -> None:
    path = argv[0]
    os.chdir(cwd)
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__cached__ = None
    sys.modules["__main__"] = main
    # The stream the outputs go back on: the exec's stdout, whatever the script does to fd 1.
    channel = os.dup(1) if out else None  # not inherited by the script's subprocesses
    with open(path, "rb") as f:
        source = f.read()
    try:
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        exc.__traceback__ = None  # as Python shows it: no frame of this file
        sys.excepthook(type(exc), exc, None)
        _finish(main, 1, out, channel)
    try:
        exec(code, main.__dict__)
        status = 0
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        exc.__traceback__ = tb  # drop this file's frame: the script's own come first
        sys.excepthook(type(exc), exc, tb)
        status = 1
    _finish(main, status, out, channel)


def _exit_status(code: object) -> int:
    """What Python makes of ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _finish(main: types.ModuleType, status: int, out: "dict | None", channel: "int | None") -> None:
    """End as Python's own shutdown does, in its order: wait for non-daemon threads, run the
    atexit functions, drop the script's globals (so its objects are finalised: an unclosed
    file is flushed), flush stdio. Then hand the outputs back if asked, and exit at once:
    tearing down the whole document stack module by module would cost more than the script
    often does, and nothing outlives it."""
    import atexit
    import threading

    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    main.__dict__.clear()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if out and channel is not None:
        with contextlib.suppress(BaseException):
            _send_outputs(out, channel)
    os._exit(status)


def _others_gone() -> bool:
    """Kill every other process of this user until none is left (PID 1 is another user's)."""
    if os.getuid() == 0:
        return False  # never as root: kill(-1) would reach far more than the script's processes
    end = time.monotonic() + KILL_WAIT_S
    while time.monotonic() < end:
        # Every process we may signal but ourselves (it reports success while PID 1 sleeps).
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if not _others():
            return True
        time.sleep(0.002)  # zombies reparented to PID 1 wait for it to reap them
    return False


def _others() -> bool:
    """Is any process but this one (a zombie too) still running as this user?"""
    me, uid = os.getpid(), str(os.getuid())
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        if uid.encode() in line.split()[1:]:
                            return True
                        break
        except OSError:
            continue  # gone meanwhile
    return False


class _Frames:
    """A write-only file that sends what it is given as length-prefixed frames, and stops
    (raises) once more than ``cap`` bytes went out."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self.cap = cap
        self.sent = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        for i in range(0, len(view), FRAME_BYTES):
            part = view[i : i + FRAME_BYTES]
            _write_all(self.fd, len(part).to_bytes(4, "big") + bytes(part))
            self.sent += len(part)
            if self.sent > self.cap:
                raise _Full
        return len(data)


class _Full(Exception):
    pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _send_outputs(out: dict, channel: int) -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # a daemon thread of the script prints nowhere now, as at exit
    os.dup2(null, 2)
    os.close(null)
    if not _others_gone():
        return  # the stream ends without its last frame: the host reads the directory
    _write_all(channel, b"\0promptkiln-outputs:" + out["token"].encode() + b"\0")
    frames = _Frames(channel, int(out["cap"]))
    caps = int(out.get("max_entries", 1 << 62)), int(out.get("max_dirs", 1 << 62))
    with contextlib.suppress(_Full):
        _tar(out["dir"], set(out.get("skip", ())), frames, caps)
    _write_all(channel, b"\0\0\0\0")


def _tar(top: str, skip: set, frames: _Frames, caps: tuple) -> None:
    """The directory as ``docker cp`` archives it: its own name first, then depth-first in
    name order, symlinks as symlinks, a second name of the same file as a hard link, no
    sockets. Iterative: a deep tree cannot exhaust the recursion limit."""
    base = os.path.basename(top.rstrip("/"))
    with tarfile.open(fileobj=frames, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(top, arcname=base, recursive=False)
        top_names = sorted(n for n in os.listdir(top) if n not in skip)
        stack = [(top, base, iter(top_names))]
        counts = [0, 0]  # files (anything but a directory), directories
        while stack:
            path, arc, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            full, member = os.path.join(path, name), f"{arc}/{name}"
            info = tar.gettarinfo(full, member)
            if info is None:
                continue  # a socket: not archived
            if info.isreg():
                fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as f:
                    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                        raise OSError(f"{full} changed while it was read")
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            counts[info.isdir()] += 1
            if counts[0] > caps[0] or counts[1] > caps[1]:
                return  # one past the host's cap: it stops reading here and says so
            if info.isdir():
                stack.append((full, member, iter(sorted(os.listdir(full)))))


_warm()
# What the imports made lives until the end: keep the collector off it, so the script's
# collections (and the one at its end) only walk the script's own objects.
gc.collect()
gc.freeze()
os.write(1, READY)
_job_spec = _job()
_place(_job_spec)
_run(_job_spec["argv"], _job_spec["cwd"], _job_spec.get("out"))
