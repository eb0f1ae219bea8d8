"""The bundled model's engine against this CPU (llm/local_engine.py): what it was built for, what
the CPU has beyond that, and what ``promptkiln models`` says about it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptkiln.llm.local_engine import EngineInfo, cpu_features, engine_info, parse_system_info

#: llama.cpp's system info of xllamacpp's PyPI wheel, and of the same version built here.
WHEEL = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
NATIVE = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)
EPYC_FLAGS = (
    "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 f16c fma bmi2 avx512f avx512dq avx512bw "
    "avx512vbmi avx512_vnni avx512_bf16 avx512vl\nbugs\t\t: sysret_ss_attrs\n"
)


def test_the_system_info_gives_the_instruction_sets_only() -> None:
    assert parse_system_info(WHEEL) == ("SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2")
    assert "AVX512_VNNI" in parse_system_info(NATIVE)
    assert "OPENMP" not in parse_system_info(NATIVE)
    assert parse_system_info("CPU : AVX512 = 0 | AVX2 = 1 |") == ("AVX2",)


def test_the_cpu_features_come_from_cpuinfo_flags() -> None:
    assert cpu_features(EPYC_FLAGS) == ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16")
    assert cpu_features("flags\t\t: fpu sse2 avx avx2\n") == ()


def test_a_portable_engine_on_an_avx512_cpu_says_how_to_build_it() -> None:
    cpu = cpu_features(EPYC_FLAGS)
    portable = EngineInfo("2026.10.11549", parse_system_info(WHEEL), cpu)
    assert portable.unused == cpu
    assert "--build-engine" in portable.summary() and "(portable)" in portable.summary()
    native = EngineInfo("2026.10.11549", parse_system_info(NATIVE), cpu)
    assert native.unused == () and "(native)" in native.summary()
    assert "--build-engine" not in native.summary()
    assert EngineInfo(None, (), cpu).summary() == "not installed"


def test_the_installed_engine_and_promptkiln_models_agree() -> None:
    pytest.importorskip("xllamacpp")
    info = engine_info()
    assert info.version and "AVX2" in info.built_for  # every x86-64 build llama.cpp ships
    assert set(info.unused) <= set(info.cpu_has)
    done = subprocess.run(
        [sys.executable, "-m", "promptkiln.cli", "models", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    engine = json.loads(done.stdout)["engine"]
    assert engine["version"] == info.version
    assert engine["built_for"] == list(info.built_for)
    assert engine["unused_cpu_features"] == list(info.unused)
