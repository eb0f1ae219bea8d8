"""The bundled model's server process, seen from the commands that use it.

:func:`ensure_server` starts llama.cpp's server (the ``xllamacpp`` wheel, extra ``[local]``) in
its own process on 127.0.0.1, records it in a state file, and reuses it on the next command (and
for every job of ``promptkiln serve``). It exits by itself after ``idle_timeout`` seconds without
requests; :func:`stop_server` ends it. The process itself is :mod:`promptkiln.llm.local_serve`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptkiln import leftovers
from promptkiln.config import default_home
from promptkiln.errors import LocalModelError
from promptkiln.llm.local_files import Progress, locked, read_json, say, write_json_atomic
from promptkiln.llm.local_slots import kv_dir_for
from promptkiln.llm.local_tuning import Tuning, load_tuning

#: Host memory (MiB) for llama.cpp's cache of recent prompts besides the slot's own: the prefixes
#: of other formats stay warm (~28 KiB a token: 512 MiB holds ~18k tokens).
CACHE_RAM_MIB = 512

DEFAULT_IDLE_TIMEOUT = 900.0  #: seconds without requests before a reused server exits
DEFAULT_CTX_SIZE = 8192  #: tokens: system prompt + prompt + 4k generated


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
    state = read_json(state_file(home))
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
    with locked(path.with_suffix(".lock")):
        state = read_json(path)
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
    cache_dir: Path | None = None,
) -> str:
    """Return the base URL (``http://127.0.0.1:PORT/v1``) of a server for ``model``.

    Reuses the server a previous command started when it is alive, healthy and serves the same
    model (path and ``sha256``) with the same settings; otherwise stops it and starts a new one in
    its own process, which exits by itself after ``idle_timeout`` **seconds** without requests.
    Threads, batch and ubatch are the ones ``make bench-model`` measured fastest on this machine
    (:mod:`.local_tuning`, in ``cache_dir``) unless ``threads`` is given. The server keeps its
    prompt cache on disk under the run directory (:mod:`.local_slots`). Waits at most
    ``start_timeout`` seconds for the model to load. Raises
    :class:`~promptkiln.errors.LocalModelError` with the tail of the server log if it fails.
    """
    path = state_file(home)
    model = Path(model).resolve()
    tuning = Tuning(threads) if threads else load_tuning(cache_dir, sha256)
    kv_dir = kv_dir_for(_run_dir(home), sha256)
    config = [*tuning.argv(), "--ctx-size", str(ctx_size), "--kv-dir", str(kv_dir),
              "--cache-ram", str(CACHE_RAM_MIB)]  # fmt: skip
    with locked(path.with_suffix(".lock")):
        state = read_json(path)
        same = state.get("model") == str(model) and state.get("model_sha256") == sha256
        same = same and state.get("config") == config
        if state and same and _healthy(state):
            # A lease: the server's idle watchdog leaves it running for another idle_timeout.
            with contextlib.suppress(OSError):
                path.with_name("local-server.ready").touch()
            say(progress, f"reusing the local model server (pid {state['pid']})")
            return f"http://127.0.0.1:{state['port']}/v1"
        old = state.get("pid")
        if isinstance(old, int) and _pid_alive(old) and _is_our_server(old):
            say(progress, f"stopping the old local model server (pid {old})")
            _terminate(old)
        path.unlink(missing_ok=True)
        say(progress, f"loading the local model ({model.name}, {tuning.threads} threads, batch "
                      f"{tuning.batch}/{tuning.ubatch}: {tuning.source})…")  # fmt: skip
        state = _start(model, path, serve_argv, idle_timeout, config, start_timeout, progress)
        state["model_sha256"], state["config"] = sha256, config
        write_json_atomic(path, state)
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
    config: Sequence[str],
    start_timeout: float,
    progress: Progress | None,
) -> dict[str, Any]:
    ready = path.with_name("local-server.ready")
    log = path.with_name("local-server.log")
    ready.unlink(missing_ok=True)
    argv = [
        *serve_argv, "--model", str(model), "--ready-file", str(ready),
        "--idle-timeout", str(idle_timeout), *config,
    ]  # fmt: skip
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
        info = read_json(ready)
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
    say(progress, f"model loaded in {time.monotonic() - started:.1f} s")
    return state
