"""What Python packages an E2B template really has, for the system prompt's library line.

Looked up when the template is not promptkiln's own (E2B's stock ``code-interpreter-v1``) or in
kernel mode: once per template and endpoint, in a sandbox of its own (the prompt is written
before the job's sandbox exists), by the interpreter that will run the script
(``importlib.metadata``: the kernel's in kernel mode, ``python3`` otherwise). The answer is kept
for :data:`CACHE_TTL_S` in ``<cache>/e2b-libraries/`` and in memory, so the cost — one short
sandbox — is paid about once a week. A lookup that fails leaves the usual list in the prompt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkiln.errors import PromptkilnError, SandboxError
from promptkiln.sandbox.e2b_kernel import STOCK_TEMPLATE
from promptkiln.sandbox.e2b_parts import SANDBOX_ENV, USER

if TYPE_CHECKING:
    from promptkiln.config import Settings

#: Seconds a template's list is trusted before it is looked up again.
CACHE_TTL_S = 7 * 24 * 3600
MARKER = "promptkiln-libraries:"
PROBE = (
    "import importlib.metadata as m, json\n"
    "names = sorted({(d.metadata['Name'] or '').strip() for d in m.distributions()} - {''})\n"
    f"print({MARKER!r} + json.dumps(names))\n"
)

_memory: dict[str, list[str]] = {}
_lock = threading.Lock()


def wanted(settings: Settings) -> bool:
    """Whether the library line comes from the template rather than promptkiln's own list."""
    return settings.backend == "e2b" and (
        settings.e2b.kernel or settings.e2b.template == STOCK_TEMPLATE
    )


def template_libraries(
    settings: Settings, progress: Callable[[str], None] | None = None
) -> list[str] | None:
    """The distribution names the configured E2B template has, or None when promptkiln's own
    list applies (another backend, promptkiln's template) or the lookup failed."""
    if not wanted(settings):
        return None
    key = _key(settings)
    with _lock:
        if key in _memory:
            return list(_memory[key])
    cached = _read_cache(settings.cache, key)
    if cached is None:
        if progress is not None:
            progress(f"looking up the packages of the E2B template {settings.e2b.template}")
        try:
            cached = probe(settings)
        except PromptkilnError as exc:
            if progress is not None:
                progress(f"could not list the template's packages ({exc}); using the usual list")
            return None
        _write_cache(settings.cache, key, settings.e2b.template, cached)
    with _lock:
        _memory[key] = list(cached)
    return list(cached)


def probe(settings: Settings) -> list[str]:
    """Start a sandbox of the template and list its distributions (raises PromptkilnError)."""
    from promptkiln.sandbox.e2b import E2BSandbox, translate_errors

    sandbox = E2BSandbox(settings, "libraries")
    with sandbox, translate_errors("listing the E2B template's packages"):
        sbx: Any = sandbox.sbx  # the code-interpreter SDK's Sandbox in kernel mode (run_code)
        if sandbox.kernel:
            execution = sbx.run_code(PROBE, timeout=120)
            text = "".join(execution.logs.stdout)
        else:
            command = "python3 -c " + _quote(PROBE)
            text = sbx.commands.run(command, user=USER, envs=dict(SANDBOX_ENV), timeout=120).stdout
    return parse(text or "")


def parse(text: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith(MARKER):
            names = json.loads(line[len(MARKER) :])
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return names
    raise SandboxError(
        "the template's Python did not list its packages",
        hint="check that the template has python3; the usual package list is used meanwhile",
    )


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _key(settings: Settings) -> str:
    cfg = settings.e2b
    where = (
        cfg.api_url
        or os.environ.get("E2B_API_URL")
        or cfg.domain
        or os.environ.get("E2B_DOMAIN", "e2b.app")
    )
    raw = "\0".join((str(where), cfg.template, "kernel" if cfg.kernel else "command"))
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _path(cache: Path, key: str) -> Path:
    return Path(cache) / "e2b-libraries" / f"{key}.json"


def _read_cache(cache: Path, key: str) -> list[str] | None:
    try:
        data: Any = json.loads(_path(cache, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or time.time() - float(data.get("time", 0)) > CACHE_TTL_S:
        return None
    names = data.get("libraries")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return names
    return None


def _write_cache(cache: Path, key: str, template: str, names: list[str]) -> None:
    path = _path(cache, key)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        body = {"template": template, "time": time.time(), "libraries": names}
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, path)


def forget() -> None:
    """Drop the in-memory lists (tests)."""
    with _lock:
        _memory.clear()


__all__ = ["CACHE_TTL_S", "forget", "parse", "probe", "template_libraries", "wanted"]
