"""The bundled model's server process: llama.cpp's server (xllamacpp) on 127.0.0.1.

Started by :func:`promptkiln.llm.local_server.ensure_server` as ``python -m promptkiln.llm.local
serve``; it writes its port to a ready file once the model is loaded and exits by itself when
idle. Its KV cache serves the common prefix of requests: one slot whose prompt stays between
requests (``cache_prompt``), a host-memory cache of other recent prompts (``cache_ram_mib``), and
slot files on disk that survive a restart (:mod:`promptkiln.llm.local_slots`).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from promptkiln.llm.local_files import write_json_atomic
from promptkiln.llm.local_model import QWEN_CODER_1_5B
from promptkiln.llm.local_server import KEY_ENV, _get
from promptkiln.llm.local_slots import LogWatch, SlotKeeper, own_log

#: Seconds between the watchdog's looks at the slot (to save it after a request).
WATCH_S = 1.0


@dataclass(frozen=True)
class ServeOptions:
    """The command line of the serve process."""

    model: Path
    ready_file: Path
    idle_timeout: float  #: seconds without requests before the process exits (0: never)
    threads: int
    ctx_size: int
    batch: int
    ubatch: int
    kv_dir: Path | None  #: where slot files are saved and restored; None: not at all
    cache_ram: int  #: MiB of host memory for recent prompts (0: none)


def serve(opts: ServeOptions) -> None:
    """Run llama.cpp's server on 127.0.0.1 (a free port) until idle for ``idle_timeout`` seconds
    or killed. Writes ``{"pid", "port"}`` to ``ready_file`` once the model is loaded and the
    saved prefixes are restored."""
    try:
        import xllamacpp as xlc
    except ImportError:
        print("xllamacpp is not installed: pip install 'promptkiln[local]'", file=sys.stderr)
        raise SystemExit(3) from None
    # /slots shows each slot's prompt text, from which the slot file's name is made
    os.environ["LLAMA_SERVER_SLOTS_DEBUG"] = "1"
    params = xlc.CommonParams()
    params.model.path = str(opts.model)
    params.model_alias = {QWEN_CODER_1_5B.name}
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the kernel picks a free port: no race with other servers
    params.n_ctx = opts.ctx_size
    params.n_parallel = 1  # one slot: 2 cores gain nothing from a second, and it halves n_ctx
    params.n_batch, params.n_ubatch = opts.batch, opts.ubatch
    params.cpuparams.n_threads = opts.threads
    params.cpuparams_batch.n_threads = opts.threads
    params.cache_prompt = True
    params.cache_ram_mib = opts.cache_ram
    params.ui = False
    params.offline = True
    params.endpoint_slots = opts.kv_dir is not None  # behind the API key like every endpoint
    if opts.kv_dir is not None:
        params.slot_save_path = str(opts.kv_dir) + os.sep
    key = os.environ.pop(KEY_ENV, "")
    if key:
        params.api_keys = [key]
    if opts.idle_timeout > 0:
        params.sleep_idle_seconds = max(1, int(opts.idle_timeout))
    server = xlc.Server(params)
    address = str(server.listening_address)
    port = int(address.rsplit(":", 1)[1].rstrip("/"))
    keeper = SlotKeeper(port, key, opts.kv_dir) if opts.kv_dir is not None else None
    if keeper is not None:
        started = time.monotonic()
        loaded = keeper.restore()
        if loaded:
            print(f"promptkiln: {loaded} saved prefixes restored in "
                  f"{time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        signal.signal(signal.SIGTERM, lambda *_: _save_and_exit(keeper))
    write_json_atomic(opts.ready_file, {"pid": os.getpid(), "port": port})
    print(f"promptkiln: serving {opts.model} at {address}/v1", flush=True)
    _watch(port, key, opts, keeper)


def _save_and_exit(keeper: SlotKeeper) -> None:
    """On SIGTERM (``promptkiln models stop``, a restart with other settings): the slot's last
    request may not be saved yet; save it, then exit."""
    props = _get(f"http://127.0.0.1:{keeper.port}/props", keeper.key)
    asleep = props is None or props.get("is_sleeping") is True  # asking /slots would wake it
    saved = None if asleep else keeper.save_if_new()
    if saved is not None:
        print(f"promptkiln: slot saved to {saved.name} on the way out", flush=True)
    os._exit(0)  # the native server threads do not stop otherwise


def _watch(port: int, key: str, opts: ServeOptions, keeper: SlotKeeper | None) -> None:
    """Save the slot after each request; exit once the server has gone to sleep.

    The server sleeps (unloads the model) after idle_timeout without requests; then this process
    exits, unless a command touched ready_file meanwhile to say it is about to use it (a request
    on its way wakes the model up again)."""
    last_idle_check = time.monotonic()
    log = own_log()
    watch = LogWatch(log) if log is not None and keeper is not None else None
    while True:
        time.sleep(WATCH_S)
        if keeper is not None and watch is not None and watch.released():
            saved = keeper.save_if_new()
            if saved is not None:
                print(f"promptkiln: slot saved to {saved.name}", flush=True)
        if opts.idle_timeout <= 0 or time.monotonic() - last_idle_check < 5:
            continue
        last_idle_check = time.monotonic()
        props = _get(f"http://127.0.0.1:{port}/props", key)
        if props is not None and props.get("is_sleeping") is True:
            try:
                leased = time.time() - opts.ready_file.stat().st_mtime < opts.idle_timeout
            except OSError:
                leased = False
            if not leased:
                print("promptkiln: idle, exiting", flush=True)
                os._exit(0)  # the native server threads do not stop otherwise
