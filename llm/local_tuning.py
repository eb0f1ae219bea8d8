"""Threads, batch and ubatch of the bundled server: measured on this machine, not guessed.

``make bench-model`` (``benchmarks/bench_model.py``) times prompt evaluation and generation of
the bundled model for a few settings and writes the fastest to ``<cache>/bench/tuning.json``;
the server reads it when it starts. Without a measurement the defaults are llama.cpp's own
batch sizes and one thread per usable core (at most 8).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from promptkiln.config import default_cache
from promptkiln.llm.local_files import read_json, write_json_atomic

#: llama.cpp's defaults: logical batch 2048 tokens, physical (ubatch) 512.
DEFAULT_BATCH = 2048
DEFAULT_UBATCH = 512


def default_threads() -> int:
    """Threads for generation: every core this process may use, at most 8 (llama.cpp gains little
    beyond the physical cores, and hyper-threads slow it down)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


@dataclass(frozen=True)
class Tuning:
    """The server's CPU settings."""

    threads: int
    batch: int = DEFAULT_BATCH
    ubatch: int = DEFAULT_UBATCH
    source: str = "default"  #: "default", or where and when it was measured

    def argv(self) -> list[str]:
        return ["--threads", str(self.threads), "--batch", str(self.batch),
                "--ubatch", str(self.ubatch)]  # fmt: skip


def tuning_file(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache()) / "bench" / "tuning.json"


def load_tuning(cache_dir: Path | None = None, model_sha256: str = "") -> Tuning:
    """The measured settings for this machine and model, else the defaults. A measurement for
    another core count or another model is ignored."""
    data = read_json(tuning_file(cache_dir))
    fallback = Tuning(default_threads())
    if data.get("cpus") != default_threads() or data.get("model_sha256") != model_sha256:
        return fallback
    try:
        threads, batch, ubatch = int(data["threads"]), int(data["batch"]), int(data["ubatch"])
    except (KeyError, TypeError, ValueError):
        return fallback
    if not (1 <= threads <= 64 and 32 <= ubatch <= batch <= 8192):
        return fallback
    return Tuning(threads, batch, ubatch, f"measured {data.get('measured_at', '?')}")


def save_tuning(
    tuning: Tuning, model_sha256: str, measured_at: str, cache_dir: Path | None = None
) -> Path:
    """Record the fastest settings (``make bench-model``)."""
    path = tuning_file(cache_dir)
    data = {**asdict(tuning), "cpus": default_threads(), "model_sha256": model_sha256,
            "measured_at": measured_at}  # fmt: skip
    write_json_atomic(path, data)
    return path
