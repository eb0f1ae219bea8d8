"""The air-gap bundle end to end: made on this (connected) machine, installed with no network.

1. ``promptkiln bundle create`` from the local wheel cache (pip ``--no-index --find-links``; the
   cache is filled once per machine and pyproject.toml) and the existing sandbox image;
2. a private Docker engine (its own data root) that has never seen the image;
3. inside a network namespace with nothing but loopback (``unshare -n``; Docker is reached over
   its unix socket, which needs no network): a corrupted bundle is refused, naming the member,
   with nothing installed and no image loaded; then the real bundle is installed into a fresh
   venv, and that venv's ``promptkiln run`` (a chart script) and ``promptkiln make`` (the bundled
   model, which the install put into an empty cache) both deliver files.

Slow (minutes: 2 GB of bundle, a docker load, the local model writing a script); CI runs it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from private_engine import PrivateEngine  # type: ignore[import-not-found]

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "tests" / "integration" / "scripts" / "chart.py"
EXTRAS = "local,validate"
SALES = "region,revenue\nNorth,2100000\nSouth,2800000\nEast,3200000\nWest,3900000\n"
PROMPT = "Bar chart of quarterly revenue: Q1=2.1M, Q2=2.8M, Q3=3.2M, Q4=3.9M"


def _needs() -> None:
    missing = [tool for tool in ("unshare", "dockerd", "ip") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and {', '.join(missing) or 'unshare, dockerd, ip'}")


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def _wheel_cache() -> Path:
    """Every wheel the bundle needs (and setuptools/wheel to build promptkiln's own), fetched once
    per machine and pyproject.toml; afterwards bundle create runs pip with --no-index."""
    from promptkiln.config import default_cache

    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    cache = default_cache() / f"test-wheel-cache-{key}"
    if (cache / ".complete").is_file():
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    build = cache / ".build"
    _pip("wheel", "--no-deps", "-q", "-w", str(build), str(REPO))
    (own,) = build.glob("promptkiln-*.whl")
    _pip("download", "-q", "-d", str(cache), f"promptkiln[{EXTRAS}] @ {own.as_uri()}",
         "setuptools>=68", "wheel")  # fmt: skip
    shutil.rmtree(build)
    for stale in cache.glob("promptkiln-*.whl"):  # promptkiln's own wheel is built every time
        stale.unlink()
    (cache / ".complete").touch()
    return cache


def _offline(
    argv: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a new network namespace that has only loopback (for the local model),
    from a directory that is not this checkout (``python -m`` puts the working directory first
    on sys.path, and the installed venv must not pick up the checkout's sources)."""
    return subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv],
        env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        cwd=env["PROMPTKILN_HOME"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    _needs()
    root = Path(f"/tmp/pk-bundle-{os.getpid()}")  # short: unix socket paths are < 108 bytes
    root.mkdir()
    eng = PrivateEngine(root)
    eng.start()
    try:
        yield eng
    finally:
        eng.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _needs()
    cache = _wheel_cache()
    out = tmp_path_factory.mktemp("bundle") / "pk.tar.gz"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "promptkiln.cli", "bundle", "create", "-o", str(out),
         "--extras", EXTRAS, "--pip-arg=--no-index", f"--pip-arg=--find-links={cache}"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"bundle create: {time.monotonic() - started:.0f} s, {out.stat().st_size / 1e6:.0f} MB")
    print(done.stderr[-1500:])
    return out


def test_bundle_installs_and_works_with_no_network(
    bundle: Path, engine: PrivateEngine, tmp_path: Path
) -> None:
    import docker

    image = os.environ.get("PROMPTKILN_IMAGE") or "promptkiln-sandbox:latest"
    client = docker.DockerClient(base_url=engine.host, timeout=60)
    assert client.images.list() == [], "the private engine must start without any image"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PROMPTKILN_LOCAL"))}
    env.update(
        DOCKER_HOST=engine.host,
        PROMPTKILN_HOME=str(tmp_path / "home"),
        PROMPTKILN_CACHE=str(tmp_path / "cache"),  # empty: the model must come from the bundle
        PROMPTKILN_CONFIG=str(tmp_path / "config.toml"),
    )
    cli = [sys.executable, "-m", "promptkiln.cli"]
    (tmp_path / "home").mkdir()

    # No way out in the namespace: connecting anywhere but loopback fails at once.
    probe = _offline([sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), 5)"], env, 30)  # fmt: skip
    assert probe.returncode != 0 and "unreachable" in probe.stderr, probe.stderr

    # A corrupted bundle (one byte changed in the middle) is refused before anything changes.
    bad = tmp_path / "bad.tar.gz"
    shutil.copyfile(bundle, bad)
    with bad.open("r+b") as fh:
        fh.seek(bad.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))
    refused = _offline([*cli, "bundle", "install", str(bad), "--venv", str(tmp_path / "bad-venv")], env, 600)  # fmt: skip
    assert refused.returncode != 0
    error = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "member" in error[0], refused.stderr[-2000:]
    assert not (tmp_path / "bad-venv").exists()
    assert not list(tmp_path.glob(".promptkiln-bundle-*"))
    assert client.images.list() == [] and not (tmp_path / "cache" / "models").exists()

    # The real bundle: a fresh venv, the image loaded into the empty engine, the model placed.
    venv = tmp_path / "venv"
    started = time.monotonic()
    done = _offline([*cli, "bundle", "install", str(bundle), "--venv", str(venv)], env, 900)
    print(f"bundle install: {time.monotonic() - started:.0f} s")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "sandbox image" in done.stdout and "FAIL" not in done.stdout, done.stdout
    client.images.get(image)
    assert (tmp_path / "cache" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").is_file()

    promptkiln = str(venv / "bin" / "promptkiln")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(CHART, work / "chart.py")
    (work / "sales.csv").write_text(SALES)
    ran = _offline(
        [promptkiln, "run", str(work / "chart.py"), "-i", str(work / "sales.csv"), "-o",
         str(work / "run-out")],
        env, 300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert list((work / "run-out").glob("*.png")), ran.stdout

    try:
        started = time.monotonic()
        made = _offline(
            [promptkiln, "make", PROMPT, "-f", "png", "-o", str(work / "make-out"), "--timeout", "120"],
            env, 900,
        )  # fmt: skip
        print(f"make with the bundled model: {time.monotonic() - started:.0f} s")
        assert made.returncode == 0, made.stderr[-3000:]
        assert list((work / "make-out").glob("*.png")), made.stdout
    finally:
        subprocess.run([promptkiln, "models", "--stop"], env=env, capture_output=True, check=False)
