"""The bundled model's engine (xllamacpp: llama.cpp's server): which CPU features it was built
for, which of this CPU's it leaves unused, and a build from source for this CPU.

xllamacpp's wheels on PyPI are built for a portable x86-64 (AVX2). On a CPU with AVX-512 (and
VNNI, BF16) llama.cpp reads prompts markedly faster when compiled for it: on the 2-core AMD EPYC
this project is measured on, the bundled model read a 920-token prompt at 92 tokens/s built
here against 68 with the wheel, and llama.cpp's own ``llama-bench`` gives 90-96 (``make
bench-model``). Generation, bound by memory, does not change. :func:`build_native` compiles the
installed xllamacpp version from its sdist with ``GGML_NATIVE`` (about 11 minutes on 2 cores;
pip caches the wheel, so a reinstall is instant).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptkiln.errors import LocalModelError
from promptkiln.llm.local_server import _run_dir

#: The CPU features llama.cpp's CPU backend can use beyond a portable x86-64 build, as its
#: system info names them, with the /proc/cpuinfo flag that says the CPU has each.
FEATURES = {
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AVX_VNNI": "avx_vnni",
    "AMX_INT8": "amx_int8",
}
#: GGML_NATIVE: compiled for this CPU. llguidance (Rust crates) and BoringSSL (git) are fetched
#: from the network at build time and the engine needs neither: off.
CMAKE_ARGS = "-DGGML_NATIVE=ON -DLLAMA_LLGUIDANCE=OFF -DLLAMA_BUILD_BORINGSSL=OFF"
_BUILT = re.compile(r"Built target (\S+)")


@dataclass(frozen=True)
class EngineInfo:
    """The installed engine against this CPU."""

    version: str | None  #: None: xllamacpp is not installed
    built_for: tuple[str, ...]  #: the features its CPU backend was compiled with
    cpu_has: tuple[str, ...]  #: the :data:`FEATURES` this CPU has

    @property
    def unused(self) -> tuple[str, ...]:
        """Features this CPU has that the engine was not built for."""
        return tuple(f for f in self.cpu_has if f not in self.built_for)

    def summary(self) -> str:
        if self.version is None:
            return "not installed"
        built = "native" if not self.unused else "portable"
        text = f"xllamacpp {self.version}, built for {', '.join(self.built_for) or '?'} ({built})"
        if self.unused:
            text += (
                f"; this CPU also has {', '.join(self.unused)}: `promptkiln models "
                "--build-engine` compiles the engine for it (faster prompt reading)"
            )
        return text


def parse_system_info(text: str) -> tuple[str, ...]:
    """The x86 instruction sets llama.cpp's system info reports on ("AVX2 = 1 | ..."); its
    other entries (LLAMAFILE, OPENMP, REPACK) are not the CPU's."""
    found = re.findall(r"\b([A-Z0-9_]+) = 1", text)
    isa = [f for f in found if f.startswith(("SSE", "SSSE", "AVX", "F16C", "FMA", "BMI", "AMX"))]
    return tuple(dict.fromkeys(isa))


def cpu_features(cpuinfo: str | None = None) -> tuple[str, ...]:
    """The :data:`FEATURES` the CPU has, from /proc/cpuinfo (none where it cannot be read)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return ()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return tuple(name for name, flag in FEATURES.items() if flag in flags)


def engine_info() -> EngineInfo:
    """The installed engine's version and CPU features (imports xllamacpp: ~0.3 s)."""
    try:
        version: str | None = importlib.metadata.version("xllamacpp")
        import xllamacpp

        built = parse_system_info(str(xllamacpp.get_system_info()))
    except (importlib.metadata.PackageNotFoundError, ImportError):
        version, built = None, ()
    return EngineInfo(version, built, cpu_features())


def build_native(home: Path | None, progress: Callable[[str], None]) -> EngineInfo:
    """Compile the installed xllamacpp version for this CPU and install it in this Python
    environment; returns the new engine's info. Output goes to ``engine-build.log`` in the
    run directory of ``home`` (beside the server's log); ``progress`` gets a line
    for each library built. Raises :class:`LocalModelError` if the build fails."""
    current = engine_info()
    if current.version is None:
        raise LocalModelError(
            "the bundled model's engine (xllamacpp) is not installed",
            hint="pip install 'promptkiln[local]' first",
        )
    log = _run_dir(home) / "engine-build.log"
    cpus = os.cpu_count() or 2
    progress(
        f"building xllamacpp {current.version} for this CPU ({', '.join(current.cpu_has) or 'x86-64'})"
        f" from its source on PyPI: up to {max(5, 22 // cpus)} min on {cpus} cores (moments if"
        f" pip has built it before); log: {log}"
    )
    argv = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--force-reinstall",
        "--no-binary", "xllamacpp", "--disable-pip-version-check", "-v",
        f"xllamacpp=={current.version}",
    ]  # fmt: skip
    env = {**os.environ, "CMAKE_ARGS": CMAKE_ARGS, "NPROC": str(cpus)}
    env.pop("XLLAMACPP_RELEASE", None)  # that one turns GGML_NATIVE off
    log.parent.mkdir(parents=True, exist_ok=True)
    built: set[str] = set()
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            found = _BUILT.search(line)
            if found and found.group(1) not in built:
                built.add(found.group(1))
                progress(f"  built {found.group(1)} ({time.monotonic() - started:.0f} s)")
        code = proc.wait()
    if code != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise LocalModelError(
            f"building the engine failed (pip exited with {code}); the installed one is "
            f"unchanged:\n{tail}",
            hint=f"see {log}; it needs cmake, a C++ compiler and the xllamacpp source from PyPI "
            "(apt-get install cmake g++)",
        )
    # A fresh interpreter: this one has the old engine loaded.
    probe = subprocess.run(
        [sys.executable, "-c", "import xllamacpp; print(xllamacpp.get_system_info())"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return EngineInfo(current.version, parse_system_info(probe.stdout), current.cpu_has)


__all__ = [
    "CMAKE_ARGS",
    "FEATURES",
    "EngineInfo",
    "build_native",
    "cpu_features",
    "engine_info",
    "parse_system_info",
]
