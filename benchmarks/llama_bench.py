"""llama.cpp's own ``llama-bench``, built from source for ``make bench-model`` only.

The source is the llama.cpp that the ``llama-cpp-python`` sdist on PyPI vendors (fetched with
``pip download --no-binary``, never installed); it is built with cmake and the system compiler
into ``<cache>/llama-bench/<version>/`` once (about half an hour on 2 busy cores) and reused.
:func:`measure` runs it on the bundled GGUF with given threads and batch sizes and returns
prompt-evaluation and generation tokens/s per setting.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The sdist whose vendored llama.cpp is built (a recent one: the server is recent too).
SDIST = "llama-cpp-python==0.3.36"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",
)  # fmt: skip


@dataclass(frozen=True)
class BenchRow:
    """One llama-bench result: a prompt-evaluation (``pp``) or generation (``tg``) test."""

    test: str  #: "pp" or "tg"
    tokens: int
    threads: int
    batch: int
    ubatch: int
    tokens_per_s: float


def binary(cache_dir: Path) -> Path:
    version = SDIST.split("==")[1]
    return cache_dir / "llama-bench" / f"build-{version}" / "bin" / "llama-bench"


def ensure(cache_dir: Path, say: Callable[[str], None] = print) -> Path | None:
    """The llama-bench binary, built once; None (and why, said) when it cannot be built."""
    exe = binary(cache_dir)
    if exe.is_file():
        return exe
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        say("llama-bench: cmake and a C++ compiler are needed to build it (apt-get install "
            "cmake g++); the comparison is skipped")  # fmt: skip
        return None
    root = cache_dir / "llama-bench"
    version = SDIST.split("==")[1]
    src = root / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not src.is_dir():
        say(f"llama-bench: fetching the llama.cpp sources ({SDIST} sdist, ~75 MB)")
        (root / "src").mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
             "--disable-pip-version-check", "-q", "-d", str(root / "src"), SDIST],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        sdists = sorted((root / "src").glob(f"llama_cpp_python-{version}.tar.gz"))
        if done.returncode != 0 or not sdists:
            say(f"llama-bench: pip download failed: {done.stderr.strip()[-300:]}")
            return None
        with tarfile.open(sdists[0]) as tar:
            tar.extractall(root, filter="data")
    build = exe.parent.parent
    build.mkdir(parents=True, exist_ok=True)
    say("llama-bench: building it once (cmake, ~30 min on 2 busy cores)…")
    steps = [
        ["cmake", "-S", str(src), "-B", str(build), *CMAKE_FLAGS],
        ["cmake", "--build", str(build), "--target", "llama-bench", "-j2"],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            say(f"llama-bench: build failed: {(done.stderr or done.stdout).strip()[-400:]}")
            return None
    return exe if exe.is_file() else None


def measure(
    exe: Path,
    model: Path,
    *,
    threads: Sequence[int],
    batches: Sequence[tuple[int, int]],
    prompt: int = 512,
    gen: int = 32,
    repetitions: int = 1,
    depth: int = 0,
) -> list[BenchRow]:
    """Run llama-bench for every thread count and (batch, ubatch); one row per test. ``depth``:
    that many tokens are in the KV cache before each test (llama-bench's ``-d``)."""
    rows: list[BenchRow] = []
    for batch, ubatch in batches:
        argv = [
            str(exe), "-m", str(model), "-t", ",".join(map(str, threads)), "-b", str(batch),
            "-ub", str(ubatch), "-p", str(prompt), "-n", str(gen), "-r", str(repetitions),
            "-d", str(depth), "-o", "json",
        ]  # fmt: skip
        # the same OpenMP waiting as the server (local_server): with the default active
        # waiting, tg32 fell to 0.1-0.2 tokens/s here on 2 busy cores (the server: ~9)
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"llama-bench failed: {done.stderr.strip()[-400:]}")
        for item in json.loads(done.stdout):
            n_prompt, n_gen = int(item.get("n_prompt", 0)), int(item.get("n_gen", 0))
            rows.append(
                BenchRow(
                    "pp" if n_prompt else "tg", n_prompt or n_gen, int(item["n_threads"]),
                    int(item["n_batch"]), int(item["n_ubatch"]), float(item["avg_ts"]),
                )
            )  # fmt: skip
    return rows
