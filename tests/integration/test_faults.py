"""Faults, with the real components: each ends with a specific message, a non-zero exit code, no
partial files in the destination, and nothing left running.

* the image is missing; the engine is missing;
* the engine stops mid-run: a SECOND dockerd (own socket, data root, exec root, no bridge, no
  iptables) is started for this, never the shared one, with a tiny image whose ``python3`` is a
  shell script that sleeps; the real CLI runs against it and the daemon is stopped under it;
* the destination is full (a small tmpfs), read-only, or a symbolic link;
* Ctrl-C at every stage of a run (starting, running, collecting), seen from the progress lines.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from private_engine import PrivateEngine  # type: ignore[import-not-found]

pytestmark = [pytest.mark.docker]

CLI = [sys.executable, "-m", "promptkiln.cli"]
LABEL_PID = "promptkiln.owner-pid"


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str
    pid: int


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180) -> Proc:
    full = {**os.environ, **(env or {})}
    p = subprocess.Popen(
        [*CLI, *args], cwd=cwd, env=full, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = p.communicate(timeout=timeout)
    return Proc(p.returncode, out, err, p.pid)


def cli_interrupted(
    *args: str, cwd: Path, when: str, sig: int = signal.SIGINT, env: dict[str, str] | None = None
) -> Proc:
    """Run the CLI with progress on stderr; send ``sig`` as soon as a progress line has ``when``."""
    full = {**os.environ, **(env or {})}
    p = subprocess.Popen(
        [*CLI, *args], cwd=cwd, env=full, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )  # fmt: skip
    assert p.stderr is not None and p.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in p.stderr:
        seen.append(line)
        if when in line:
            p.send_signal(sig)
            break
        assert time.monotonic() < deadline, "".join(seen)
    out, err = p.communicate(timeout=120)
    return Proc(p.returncode, out, "".join(seen) + err, p.pid)


def one_error_line(proc: Proc, *needles: str) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def leftovers(pid: int, docker_host: str | None = None) -> list[str]:
    """Containers and volumes still labelled with the given CLI process as their owner."""
    import docker

    client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
    try:
        flt = {"label": f"{LABEL_PID}={pid}"}
        return [c.name for c in client.containers.list(all=True, filters=flt)] + [
            v.name for v in client.volumes.list(filters=flt)
        ]
    finally:
        client.close()


def no_partial_files(out: Path) -> None:
    """Nothing of a failed run in the destination: no files, no staging directory."""
    if out.exists():
        left = [str(p.relative_to(out)) for p in out.rglob("*")]
        assert left == [], left


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "ok.py").write_text("open('ok.txt', 'w').write('ok')\n")
    (tmp_path / "sleep.py").write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "big.py").write_text(
        "import os\nfor i in range(2):\n"
        "    with open(f'big{i}.csv', 'wb') as f:\n"
        "        for _ in range(100):\n"
        "            f.write(os.urandom(1 << 20))\n"
        "print('wrote 200 MiB')\n"
    )
    return tmp_path


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small or read-only file system as --out needs root")


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


# -- the engine and the image ---------------------------------------------------------------


def test_image_missing(work: Path) -> None:
    proc = cli(
        "run", "ok.py", "-o", "out", cwd=work, env={"PROMPTKILN_IMAGE": "promptkiln-missing:none"}
    )
    assert proc.returncode == 70
    one_error_line(proc, "promptkiln-missing:none", "promptkiln image build")
    no_partial_files(work / "out")
    assert leftovers(proc.pid) == []


def test_engine_missing(work: Path) -> None:
    proc = cli(
        "run", "ok.py", "-o", "out", cwd=work, env={"DOCKER_HOST": "unix:///nonexistent.sock"}
    )
    assert proc.returncode == 70
    one_error_line(proc, "cannot reach the Docker engine", "unix:///nonexistent.sock")
    assert not (work / "out").exists()


def test_gc_with_engine_missing(work: Path) -> None:
    proc = cli("gc", cwd=work, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert proc.returncode == 70
    one_error_line(proc, "cannot reach the Docker engine")


# -- a second, private engine that the test may stop ----------------------------------------


def _tiny_rootfs() -> bytes:
    """A root file system with dash, sleep, their libraries, and a ``python3`` that sleeps."""
    files: dict[str, Path] = {}
    for binary in ("/bin/sh", "/bin/sleep", "/bin/cat"):
        real = Path(os.path.realpath(binary))
        files[binary.lstrip("/")] = real
        ldd = subprocess.run(["ldd", str(real)], capture_output=True, text=True).stdout
        for word in ldd.split():
            if word.startswith("/") and os.path.exists(word):
                files[word.lstrip("/")] = Path(os.path.realpath(word))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "usr/bin", "lib", "lib64", "tmp", "home/user/work", "etc"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, real in files.items():
            tar.add(str(real), arcname=name)
        script = b"#!/bin/sh\nexec sleep 60\n"
        info = tarfile.TarInfo("usr/bin/python3")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return buf.getvalue()


@pytest.fixture(scope="module")
def private_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateEngine]:
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.skip("a private dockerd needs the dockerd binary and root")
    root = Path(f"/tmp/pk-faults-{os.getpid()}")  # short: unix socket paths are < 108 bytes
    root.mkdir()
    engine = PrivateEngine(root)
    engine.start()
    import docker

    client = docker.DockerClient(base_url=engine.host, timeout=60)
    client.api.import_image_from_data(_tiny_rootfs(), repository="pk-tiny", tag="faults")
    client.close()
    try:
        yield engine
    finally:
        engine.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def _processes_of(container_ids: set[str]) -> list[str]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if any(cid in (entry / "cgroup").read_text() for cid in container_ids):
                    alive.append(entry.name)
    return alive


def test_engine_stopped_mid_run(private_engine: PrivateEngine, work: Path) -> None:
    import docker

    env = {"DOCKER_HOST": private_engine.host, "PROMPTKILN_IMAGE": "pk-tiny:faults"}
    p = subprocess.Popen(
        [*CLI, "run", "sleep.py", "-o", "out", "--timeout", "60"], cwd=work,
        env={**os.environ, **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )  # fmt: skip
    assert p.stderr is not None
    seen = []
    for line in p.stderr:
        seen.append(line)
        if "running the script" in line:
            break
    time.sleep(1)
    client = docker.DockerClient(base_url=private_engine.host, timeout=30)
    ids = {c.id for c in client.containers.list(all=True)}
    client.close()
    assert ids, "".join(seen)
    t0 = time.monotonic()
    private_engine.stop()
    out, err = p.communicate(timeout=120)
    stopped = Proc(p.returncode, out, "".join(seen) + err, p.pid)
    assert time.monotonic() - t0 < 60, "the CLI hung after the engine stopped"
    assert stopped.returncode == 70, stopped.stderr
    one_error_line(stopped, "Docker engine")
    no_partial_files(work / "out")
    assert _processes_of(ids) == [], "processes of the sandbox outlived the engine"

    # The engine comes back with the dead run's container and volume on its books: the next
    # `promptkiln gc` (the CLI that made them is gone) removes them.
    private_engine.start()
    assert leftovers(stopped.pid, private_engine.host), "expected the dead run's leftovers"
    gc = cli("gc", cwd=work, env=env)
    assert gc.returncode == 0, gc.stderr
    assert leftovers(stopped.pid, private_engine.host) == []


# -- the destination ------------------------------------------------------------------------


def test_destination_full(work: Path) -> None:
    needs_root()
    with mounted_tmpfs(work / "small", "size=2m") as out:
        proc = cli("run", "big.py", "-o", str(out), "--timeout", "120", cwd=work)
        assert proc.returncode == 73, proc.stderr
        one_error_line(proc, "no space left", str(out))
        assert "wrote 200 MiB" in proc.stderr  # what the script printed is still shown
        no_partial_files(out)
    assert leftovers(proc.pid) == []


def test_destination_read_only(work: Path) -> None:
    needs_root()
    with mounted_tmpfs(work / "ro", "ro,size=1m") as ro:
        proc = cli("run", "ok.py", "-o", str(ro / "out"), "--timeout", "60", cwd=work)
        assert proc.returncode == 73, proc.stderr
        one_error_line(proc, "read-only")
        no_partial_files(ro)
    assert leftovers(proc.pid) == []


def test_destination_is_a_symlink(work: Path) -> None:
    real = work / "real"
    real.mkdir()
    (work / "out").symlink_to(real)
    proc = cli("run", "ok.py", "-o", "out", "--timeout", "60", cwd=work)
    assert proc.returncode == 73, proc.stderr
    one_error_line(proc, "symbolic link")
    assert list(real.iterdir()) == []
    assert leftovers(proc.pid) == []


def test_destination_parent_is_a_file(work: Path) -> None:
    (work / "afile").write_text("x")
    proc = cli("run", "ok.py", "-o", "afile/out", "--timeout", "60", cwd=work)
    assert proc.returncode in (64, 73), proc.stderr
    one_error_line(proc)
    assert (work / "afile").read_text() == "x"


# -- Ctrl-C ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "stage"),
    [
        ("ok.py", "starting the sandbox"),
        ("sleep.py", "running the script"),
        ("big.py", "collecting the files"),
    ],
)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_at_every_stage(work: Path, script: str, stage: str, sig: int) -> None:
    proc = cli_interrupted(
        "run", script, "-o", "out", "--timeout", "120", cwd=work, when=stage, sig=sig
    )
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "interrupted" in proc.stderr.splitlines()[-1], proc.stderr
    no_partial_files(work / "out")
    assert leftovers(proc.pid) == []


def test_second_interrupt_during_cleanup_still_cleans_up(work: Path) -> None:
    """Two quick Ctrl-Cs (the impatient user): the second lands while the sandbox is removed."""
    full = {**os.environ}
    p = subprocess.Popen(
        [*CLI, "run", "sleep.py", "-o", "out", "--timeout", "120"], cwd=work, env=full,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        bufsize=1,
    )  # fmt: skip
    assert p.stderr is not None
    for line in p.stderr:
        if "running the script" in line:
            break
    p.send_signal(signal.SIGINT)
    time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    # 130, or killed by the second SIGINT itself if it lands after cleanup, while exiting.
    assert p.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err, err
    no_partial_files(work / "out")
    deadline = time.monotonic() + 5
    while leftovers(p.pid) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert leftovers(p.pid) == []


# -- the model, through `promptkiln make` (the API-level cases are in test_generate.py) --------

SLEEPY = "```python\nimport time\ntime.sleep(60)\nopen('x.csv', 'w').write('a')\n```\n"


def make_env(server: Any, **extra: str) -> dict[str, str]:
    return {
        "PROMPTKILN_MODEL": "openai/test-model",
        "PROMPTKILN_API_BASE": server.url,
        "PROMPTKILN_ATTEMPTS": "1",
        **extra,
    }


def test_make_model_answers_garbage(openai_server: Any, work: Path) -> None:
    openai_server.enqueue_raw(b"<html><body>502 Bad Gateway</body></html>\x1b[2J", status=200)
    openai_server.enqueue_raw(b"\x00\xff garbage", status=200)
    openai_server.enqueue_raw(b"\x00\xff garbage", status=200)
    proc = cli("make", "a csv", "-f", "csv", "-o", "out", cwd=work, env=make_env(openai_server))
    assert proc.returncode == 69, proc.stderr
    one_error_line(proc)
    assert "\x1b" not in proc.stderr
    no_partial_files(work / "out")


def test_make_model_answers_2mb(openai_server: Any, work: Path) -> None:
    openai_server.enqueue_huge(2 * 1024 * 1024)
    proc = cli("make", "a csv", "-f", "csv", "-o", "out", cwd=work, env=make_env(openai_server))
    assert proc.returncode != 0, proc.stderr
    one_error_line(proc)
    assert len(proc.stderr) < 64 * 1024, "the 2 MB answer was echoed"
    no_partial_files(work / "out")


@pytest.mark.parametrize(
    ("stage", "answer"),
    [("generating the script", "slow"), ("running the script", "sleepy")],
)
def test_make_interrupted(openai_server: Any, work: Path, stage: str, answer: str) -> None:
    if answer == "slow":
        openai_server.enqueue_slow(SLEEPY, delay_s=30)
    else:
        openai_server.enqueue(SLEEPY)
    tmp = work / "tmpdir"
    tmp.mkdir()
    proc = cli_interrupted(
        "make", "a csv", "-f", "csv", "-o", "out", cwd=work, when=stage,
        env=make_env(openai_server, TMPDIR=str(tmp)),
    )  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "interrupted" in proc.stderr.splitlines()[-1], proc.stderr
    no_partial_files(work / "out")
    assert leftovers(proc.pid) == []
    assert list(tmp.iterdir()) == [], "make left its staging directory behind"
