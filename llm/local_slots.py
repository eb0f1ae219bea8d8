"""The bundled server's KV cache on disk: the common prefixes survive a restart.

llama.cpp keeps the prompt of its slot (and, with ``cache_ram_mib``, other recent prompts in host
memory) between requests, but all of it is gone when the server exits (it does after
``idle_timeout``) or sleeps. So the serve process saves slot 0 to ``<kv dir>/prefix-<key>.bin``
after every request (it sees one end in the server's log, :class:`LogWatch`) (llama.cpp's ``POST /slots/0?action=save``), one file per system prompt (the
key is a hash of it: one file per set of formats and templates), and on start restores the most
recently used ones: each but the last is moved into the host-memory prompt cache by a one-token
request that does not share its prefix, and the last stays in the slot.

Files are this user's only (the directory is 0700), at most :data:`KEEP_FILES` of them; they hold
the conversations' KV state, so they are deleted with ``promptkiln models stop --clear`` (or by
hand) like any cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

#: Slot files kept (the most recently used); each is ~28 KiB per token of its conversation.
KEEP_FILES = 8
#: Slot files restored into the caches when the server starts.
RESTORE_FILES = 4
#: Where a chat template ends the system message (Qwen's ChatML); else the first characters.
END_OF_SYSTEM = "<|im_end|>"


def prefix_key(prompt: str) -> str:
    """A file-name-safe key of the system message at the start of a slot's prompt text."""
    cut = prompt.find(END_OF_SYSTEM)
    head = prompt[: cut if cut > 0 else 4000]
    return hashlib.sha256(head.encode("utf-8", "replace")).hexdigest()[:16]


def _call(port: int, key: str, path: str, body: dict[str, Any] | None, timeout: float) -> Any:
    """GET (``body`` None) or POST JSON to the loopback server; the JSON answer, or None."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with opener.open(request, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


class SlotKeeper:
    """Saves slot 0 after each request and restores saved prefixes on start."""

    def __init__(self, port: int, key: str, kv_dir: Path) -> None:
        self.port, self.key, self.kv_dir = port, key, kv_dir
        self.saved_task: int | None = None

    def files(self) -> list[Path]:
        """The slot files, the most recently used first."""
        found = [p for p in self.kv_dir.glob("prefix-*.bin") if p.is_file()]
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def restore(self) -> int:
        """Load the most recent slot files into the caches; returns how many loaded."""
        recent = self.files()[:RESTORE_FILES]
        loaded = 0
        for n, path in enumerate(reversed(recent)):
            done = _call(self.port, self.key, "/slots/0?action=restore",
                         {"filename": path.name}, 120)  # fmt: skip
            if not isinstance(done, dict) or "n_restored" not in done:
                continue
            loaded += 1
            if n < len(recent) - 1:
                # a prompt that shares nothing with the slot's: llama.cpp saves the slot's prompt
                # into its host-memory cache before it takes the new one
                _call(self.port, self.key, "/completion",
                      {"prompt": "\n", "n_predict": 1, "cache_prompt": True}, 60)  # fmt: skip
        self.saved_task = self._slot_task()
        return loaded

    def _slot(self) -> dict[str, Any] | None:
        slots = _call(self.port, self.key, "/slots", None, 5)
        if not isinstance(slots, list) or not slots or not isinstance(slots[0], dict):
            return None
        return slots[0]

    def _slot_task(self) -> int | None:
        slot = self._slot()
        task = slot.get("id_task") if slot else None
        return task if isinstance(task, int) else None

    def save_if_new(self) -> Path | None:
        """Save slot 0 when it has served a request since the last save and is idle now."""
        slot = self._slot()
        if slot is None or slot.get("is_processing"):
            return None
        task, prompt = slot.get("id_task"), slot.get("prompt")
        if not isinstance(task, int) or task == self.saved_task or not isinstance(prompt, str):
            return None
        if not prompt or not slot.get("n_prompt_tokens"):
            return None
        name = f"prefix-{prefix_key(prompt)}.bin"
        done = _call(self.port, self.key, "/slots/0?action=save", {"filename": name}, 120)
        self.saved_task = task
        if not isinstance(done, dict) or "n_saved" not in done:
            return None
        for old in self.files()[KEEP_FILES:]:
            old.unlink(missing_ok=True)
        return self.kv_dir / name


class LogWatch:
    """Says when llama.cpp's log (this process's stdout) shows that a request has finished.

    Asking the server (``/slots``) every second would keep it awake: every such call is a task,
    and the server only goes to sleep (which is how an idle one is noticed and exits) after
    ``idle_timeout`` seconds without tasks. Reading the log costs the server nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = self._size()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def released(self) -> bool:
        """True when a slot was released (a request ended) since the last call."""
        size = self._size()
        if size < self.offset:  # truncated: a new log
            self.offset = 0
        if size == self.offset:
            return False
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read(size - self.offset)
        except OSError:
            return False
        self.offset = size
        return b" release:" in data


def own_log() -> Path | None:
    """The file this process's stdout goes to (the server log), when it is one."""
    try:
        path = Path(os.readlink("/proc/self/fd/1"))
    except OSError:
        return None
    return path if path.is_file() else None


def kv_dir_for(run_dir: Path, model_sha256: str) -> Path:
    """The slot files' directory of one model (another model's files never load)."""
    path = run_dir / "kv" / (model_sha256[:16] or "unknown")
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
