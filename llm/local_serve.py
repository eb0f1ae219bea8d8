"""The bundled model's server process: llama.cpp's server (xllamacpp) on 127.0.0.1.

Started by :func:`promptkiln.llm.local_server.ensure_server` as ``python -m promptkiln.llm.local
serve``; it writes its port to a ready file once the model is loaded and exits by itself when
idle.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from promptkiln.llm.local_files import write_json_atomic
from promptkiln.llm.local_model import QWEN_CODER_1_5B
from promptkiln.llm.local_server import KEY_ENV, _get


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
    write_json_atomic(ready_file, {"pid": os.getpid(), "port": port})
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
