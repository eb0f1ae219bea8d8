"""The red-team harness: host fixtures, one real CLI run per attack, and the host checks.

(The pytest fixtures that hold these live in conftest.py.)

Every attack runs through the real pipeline the way a user runs a script: ``promptkiln run
ATTACK -o OUT --json --timeout T`` in a subprocess, against the real Docker engine and the real
sandbox image. Around each run the harness holds the host fixtures of
``../shared/redteam/README.md``:

* canary environment variables in the CLI's own environment (``REDTEAM_HOST_CANARY`` and the
  API-key variables the platform and litellm read), fresh random values per session;
* canary files with ``REDTEAM-CANARY-<rand>``: ``/tmp/REDTEAM_HOST_CANARY.txt`` and
  ``.redteam_host_canary`` in the project directory, ``$HOME`` and the parent of ``--out``;
* a TCP listener on host ``127.0.0.1:47291`` (``REDTEAM_LOOPBACK_CANARY_PORT``) that sends
  ``REDTEAM-HOST-LOOPBACK-CANARY`` and logs every connection;
* a sampler that, while the CLI runs, records host free disk and memory, the CLI's own RSS, and
  the containers the CLI made (found by the ``promptkiln.owner-pid`` label) with their config.

The checks (``H_*``) are methods of :class:`Checks`; test_attacks.py decides which apply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from shared_corpus import SKIP_REASON, shared_path  # type: ignore[import-not-found]

REPO = Path(__file__).resolve().parents[2]
#: The shared corpus sits beside the repository: required in CI (a missing one fails the
#: collection loudly), skipped with SKIP_REASON from a plain clone. None when skipped.
ATTACKS: Path | None = shared_path("redteam/attacks")
#: Attacks written for this project, in the same format: kinds the shared folder does not cover.
#: They always run.
EXTRA_ATTACKS = Path(__file__).resolve().parent / "attacks"
SHARED_SKIP_REASON: str = SKIP_REASON

CLI = [sys.executable, "-m", "promptkiln.cli"]
LABEL_KIND = "promptkiln.kind"
LABEL_PID = "promptkiln.owner-pid"
#: "grace" in H_WALL: the README allows at most 10 s over the timeout.
GRACE_S = 10.0
#: H_OUTPUT_FROZEN waits this long (the README says 10 s; CI time is precious, and nothing of a
#: finished run can write to the host at all: there is no bind mount).
FROZEN_WAIT_S = 4.0
#: H_NO_LEFTOVER: everything of the run must be gone within this long after the CLI returned.
LEFTOVER_WAIT_S = 5.0
CANARY_BANNER = b"REDTEAM-HOST-LOOPBACK-CANARY"
#: Variables holding API keys that the platform (litellm, the E2B SDK, promptkiln) reads.
SECRET_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "E2B_API_KEY",
    "GEMINI_API_KEY",
    "AZURE_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "HF_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "GITHUB_TOKEN",
    "PROMPTKILN_E2B__API_KEY",
)
#: Characters that must never reach a terminal raw: C0 controls except tab and newline, DEL,
#: C1 controls, and the bidi / zero-width format characters.
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


# -- the attack files ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Attack:
    """One hostile script and what its header promises."""

    path: Path
    id: str
    expect: dict[str, Any]

    @property
    def category(self) -> str:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# CATEGORY:"):
                return line.split(":", 1)[1].strip()
        return ""

    @property
    def repeat(self) -> int:
        """Long-lived attacks (orphans, races) run twice, as the README asks; others once."""
        if "repeat" in self.expect:
            return int(self.expect["repeat"])
        return 2 if ("lifecycle" in self.category or "race" in self.category) else 1

    @property
    def host_checks(self) -> list[str]:
        return list(self.expect.get("host_checks", []))

    @property
    def self_verdict(self) -> list[str]:
        return list(self.expect.get("self_verdict", []))

    @property
    def deliver_only(self) -> set[str] | None:
        names = self.expect.get("deliver_only")
        return None if names is None else set(names)

    @property
    def timeout_s(self) -> float:
        """The ``--timeout`` to give: short, and still inside the header's wall-clock bound."""
        wall = self.expect.get("max_wall_s")
        if wall == "timeout+grace":
            return 5.0
        assert isinstance(wall, int | float), f"{self.id}: max_wall_s {wall!r}"
        return float(min(max(4.0, wall - 4.0), 60.0))

    @property
    def max_wall_s(self) -> float:
        wall = self.expect.get("max_wall_s")
        return self.timeout_s + GRACE_S if wall == "timeout+grace" else float(wall)


def parse_attack(path: Path) -> Attack:
    rid = expect = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# REDTEAM-ID:"):
            rid = line.split(":", 1)[1].strip()
        elif line.startswith("# EXPECT-JSON:"):
            expect = json.loads(line.split(":", 1)[1])
    if rid is None or expect is None:
        raise ValueError(f"{path}: no REDTEAM-ID / EXPECT-JSON header")
    return Attack(path, rid, expect)


def all_attacks() -> list[Attack]:
    shared = sorted(ATTACKS.glob("*.py")) if ATTACKS is not None else []
    if ATTACKS is not None and not shared:
        raise RuntimeError(f"no attack scripts in {ATTACKS}")
    paths = shared + sorted(EXTRA_ATTACKS.glob("*.py"))
    return [parse_attack(p) for p in paths]


# -- host fixtures ------------------------------------------------------------------------------


class LoopbackListener:
    """A TCP listener on host loopback that sends the canary banner and logs each connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: list[tuple[str, float]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 30
        while True:
            try:
                self._sock.bind(("127.0.0.1", port))
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"cannot listen on 127.0.0.1:{port} for the loopback canary ({exc}); "
                        "is another red-team run going? set REDTEAM_LOOPBACK_CANARY_PORT"
                    ) from exc
                time.sleep(1)
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="redteam-loopback", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._halt.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append((f"{peer[0]}:{peer[1]}", time.time()))
            with contextlib.suppress(OSError), conn:
                conn.sendall(CANARY_BANNER + b"\n")

    def close(self) -> None:
        self._halt.set()
        self._sock.close()
        self._thread.join(timeout=2)


@dataclasses.dataclass
class Host:
    """The session's host fixtures."""

    token: str  #: the random part; every canary value contains it
    env: dict[str, str]  #: canary variables for the CLI's environment
    tmp_canary: Path
    tmp_canary_text: str
    listener: LoopbackListener
    image: str
    runtimes: dict[str, Any]  #: the engine's runtimes and their arguments (docker info)

    def reset_tmp_canary(self) -> str:
        """Put the /tmp canary back (another session may share /tmp) and return its text."""
        with contextlib.suppress(OSError):
            if self.tmp_canary.read_text() == self.tmp_canary_text:
                return self.tmp_canary_text
        self.tmp_canary.write_text(self.tmp_canary_text)
        return self.tmp_canary_text

    def runtime_args(self, runtime: str) -> list[str]:
        return list((self.runtimes.get(runtime) or {}).get("runtimeArgs") or [])

    def forbidden(self) -> list[str]:
        """Strings that must not appear anywhere the sandbox's data reaches."""
        values = [self.token, *self.env.values()]
        hashes = [hashlib.sha256(v.encode()).hexdigest()[:12] for v in self.env.values()]
        return values + hashes


def _write_canary(path: Path, text: str) -> Path | None:
    try:
        path.write_text(text)
    except OSError:
        return None
    return path


# -- one CLI run, observed from outside ---------------------------------------------------------


@dataclasses.dataclass
class Samples:
    """What the sampler saw while the CLI ran."""

    disk_free: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    mem_available: list[int] = dataclasses.field(default_factory=list)
    cli_rss: list[int] = dataclasses.field(default_factory=list)
    containers: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: container id -> [(monotonic time, CPU seconds used so far)], read from the host's cgroup
    cpu: dict[str, list[tuple[float, float]]] = dataclasses.field(default_factory=dict)

    def max_cpu_rate(self, window_s: float = 2.0) -> float:
        """The highest CPU use (in CPUs) of any container over any window of ``window_s``."""
        best = 0.0
        for series in self.cpu.values():
            for i, (t0, u0) in enumerate(series):
                for t1, u1 in series[i + 1 :]:
                    if t1 - t0 >= window_s:
                        best = max(best, (u1 - u0) / (t1 - t0))
                        break
        return best

    def max_drop(self, series: list[int]) -> int:
        return (series[0] - min(series)) if series else 0


def _mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(container_id: str) -> float | None:
    """CPU time used by a container's cgroup, from the host (cgroup v1 or v2, cgroupfs/systemd)."""
    for path in (
        f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage",
        f"/sys/fs/cgroup/cpu,cpuacct/docker/{container_id}/cpuacct.usage",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
        f"/sys/fs/cgroup/docker/{container_id}/cpu.stat",
    ):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith("cpuacct.usage"):
            return int(text) / 1e9
        for line in text.splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    return None


def _rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    def __init__(self, pid: int, disk_paths: list[str], interval: float = 0.2) -> None:
        super().__init__(name="redteam-sampler", daemon=True)
        import docker

        self.pid = pid
        self.paths = disk_paths
        self.interval = interval
        self.samples = Samples(disk_free={p: [] for p in disk_paths})
        self._halt = threading.Event()
        self._client = docker.from_env(timeout=30)

    def sample_once(self) -> None:
        s = self.samples
        for p in self.paths:
            with contextlib.suppress(OSError):
                s.disk_free[p].append(shutil.disk_usage(p).free)
        s.mem_available.append(_mem_available())
        rss = _rss(self.pid)
        if rss is not None:
            s.cli_rss.append(rss)
        with contextlib.suppress(Exception):
            for c in self._client.containers.list(
                all=True, filters={"label": f"{LABEL_PID}={self.pid}"}
            ):
                if c.id not in s.containers:
                    s.containers[c.id] = c.attrs
        for cid in s.containers:
            used = _cpu_seconds(cid)
            if used is not None:
                s.cpu.setdefault(cid, []).append((time.monotonic(), used))

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample_once()
            self._halt.wait(self.interval)

    def stop(self) -> Samples:
        self._halt.set()
        self.join(timeout=10)
        self.sample_once()
        self._client.close()
        return self.samples


@dataclasses.dataclass
class CliRun:
    argv: list[str]
    pid: int
    returncode: int
    stdout_bytes: bytes
    stderr_bytes: bytes
    wall_s: float
    out: Path
    cwd: Path
    samples: Samples
    timeout_s: float

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def manifest(self) -> dict[str, Any] | None:
        text = self.stdout.strip()
        if not text.startswith("{"):
            return None
        try:
            data: dict[str, Any] = json.loads(text)
        except ValueError:
            return None
        return data

    def _tagged(self, tag: str) -> list[dict[str, Any]]:
        found = []
        for line in self.stderr.splitlines():
            if line.startswith(tag + " "):
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line[len(tag) + 1 :]))
        return found

    @property
    def results(self) -> list[dict[str, Any]]:
        """The script's own ``REDTEAM_RESULT`` lines, as shown by the CLI."""
        return self._tagged("REDTEAM_RESULT")

    @property
    def progress(self) -> list[dict[str, Any]]:
        return self._tagged("REDTEAM_PROGRESS")

    @property
    def verdict(self) -> dict[str, Any] | None:
        return self.results[-1] if self.results else None

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error: ")]

    @property
    def termination(self) -> str | None:
        m = self.manifest
        return None if m is None else m.get("termination")

    def delivered(self) -> list[Path]:
        """Every path under --out, as the host sees it (links included, never followed)."""
        if not self.out.exists():
            return []
        found = []
        for root, dirs, files in os.walk(self.out, followlinks=False):
            found += [Path(root, n) for n in dirs + files]
        return found

    def describe(self) -> str:
        return (
            f"argv: {' '.join(self.argv)}\nexit {self.returncode} after {self.wall_s:.1f} s\n"
            f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


def run_cli(
    script: Path,
    out: Path,
    host: Host,
    *,
    timeout_s: float,
    runtime: str = "runc",
    cwd: Path,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    interrupt_after: float | None = None,
) -> CliRun:
    """Run ``promptkiln run`` as a user would, with the canaries in its environment."""
    argv = [
        *CLI, "run", str(script), "-o", str(out), "--json",
        "--timeout", f"{timeout_s:g}", "--runtime", runtime, *(extra or []),
    ]  # fmt: skip
    if os.environ.get("REDTEAM_WARM") == "1":  # the pool's path: a warmed sandbox
        argv.append("--warm")
    full_env = {**os.environ, **host.env, "PROMPTKILN_IMAGE": host.image, **(env or {})}
    full_env.pop("PYTHONWARNINGS", None)
    cwd.mkdir(parents=True, exist_ok=True)
    out_file, err_file = cwd / ".redteam-cli.stdout", cwd / ".redteam-cli.stderr"
    disk_paths = [p for p in ("/var/lib/docker", str(out.parent)) if os.path.exists(p)]
    with open(out_file, "wb") as so, open(err_file, "wb") as se:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=so, stderr=se, stdin=subprocess.DEVNULL
        )
        sampler = Sampler(proc.pid, disk_paths)
        sampler.sample_once()
        sampler.start()
        try:
            if interrupt_after is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=interrupt_after)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            proc.wait(timeout=timeout_s + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        finally:
            wall = time.monotonic() - started
            samples = sampler.stop()
    run = CliRun(
        argv, proc.pid, proc.returncode, out_file.read_bytes(), err_file.read_bytes(),
        wall, out, cwd, samples, timeout_s,
    )  # fmt: skip
    out_file.unlink()
    err_file.unlink()
    return run


# -- the host checks ----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Path -> (mode, size, mtime_ns, sha256) of everything under ``root`` (links not followed)."""
    snap: dict[str, tuple[int, int, int, str]] = {}
    if not root.exists():
        return snap
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(dirpath, name)
            st = p.lstat()
            digest = ""
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            snap[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return snap


def canary_files(places: list[Path]) -> set[str]:
    """``REDTEAM_*CANARY*`` files (what out_06/out_13 payloads would create) in ``places``."""
    found: set[str] = set()
    for place in places:
        with contextlib.suppress(OSError):
            found.update(str(p) for p in place.glob("REDTEAM_*CANARY*"))
    return found


def container_processes(ids: set[str]) -> list[str]:
    """Host processes that still belong to one of the given containers' cgroups."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        if any(cid in cgroup for cid in ids):
            alive.append(entry.name)
    return alive


class Checks:
    """The README's host checks for one finished CLI run."""

    def __init__(self, run: CliRun, host: Host, attack: Attack | None = None) -> None:
        self.run = run
        self.host = host
        self.attack = attack

    def _fail(self, check: str, message: str) -> None:
        pytest.fail(f"{check}: {message}\n{self.run.describe()}", pytrace=False)

    def delivered_files(self) -> list[Path]:
        return [p for p in self.run.delivered() if p.is_file() and not p.is_symlink()]

    def delivered_names(self) -> set[str]:
        """Delivered names relative to --out, and with the scripts' ``outputs/`` folder dropped."""
        names = set()
        for p in self.delivered_files():
            rel = p.relative_to(self.run.out).as_posix()
            names.add(rel.removeprefix("outputs/"))
        return names

    # Each check below is named after the README's table.

    def H_CANARY_ENV(self) -> None:
        places = {"stdout": self.run.stdout_bytes, "stderr": self.run.stderr_bytes}
        places.update({str(p): p.read_bytes() for p in self.delivered_files()})
        for where, data in places.items():
            for needle in self.host.forbidden():
                if needle.encode() in data:
                    self._fail("H_CANARY_ENV", f"canary {needle[:24]}… leaked into {where}")

    def H_CANARY_FILE(self, before: str | None = None) -> None:
        self.H_CANARY_ENV()  # the token is the same; file canaries contain it
        text = self.host.tmp_canary.read_text()
        if text != (before if before is not None else self.host.tmp_canary_text):
            self._fail("H_CANARY_FILE", f"{self.host.tmp_canary} changed: {text[:100]!r}")
        for p in self.delivered_files():
            if b"root:x:0:0" in p.read_bytes():
                self._fail("H_CANARY_FILE", f"{p} holds a passwd file")

    def H_LOOPBACK_LISTENER(self, before: int) -> None:
        seen = self.host.listener.connections[before:]
        if seen:
            self._fail("H_LOOPBACK_LISTENER", f"the loopback canary accepted {seen}")

    def H_WALL(self) -> None:
        limit = self.run.timeout_s + GRACE_S
        if self.attack is not None:
            limit = min(limit, self.attack.max_wall_s)
        if self.run.wall_s > limit:
            self._fail("H_WALL", f"ran {self.run.wall_s:.1f} s, the bound is {limit:g} s")

    def H_NO_LEFTOVER(self) -> None:
        import docker

        client = docker.from_env(timeout=30)
        ids = set(self.run.samples.containers)
        deadline = time.monotonic() + LEFTOVER_WAIT_S
        try:
            while True:
                flt = {"label": f"{LABEL_PID}={self.run.pid}"}
                containers = [c.name for c in client.containers.list(all=True, filters=flt)]
                volumes = [v.name for v in client.volumes.list(filters=flt)]
                procs = container_processes(ids) if ids else []
                if not (containers or volumes or procs):
                    return
                if time.monotonic() > deadline:
                    self._fail(
                        "H_NO_LEFTOVER",
                        f"{LEFTOVER_WAIT_S:g} s after the CLI returned: containers {containers}, "
                        f"volumes {volumes}, processes {procs}",
                    )
                time.sleep(0.25)
        finally:
            client.close()

    def H_OUTPUT_FROZEN(self, snap: dict[str, Any] | None = None) -> None:
        snap = snap if snap is not None else snapshot(self.run.out)
        time.sleep(FROZEN_WAIT_S)
        later = snapshot(self.run.out)
        if later != snap:
            changed = sorted(set(later.items()) ^ set(snap.items()))
            self._fail("H_OUTPUT_FROZEN", f"the delivery directory changed: {changed[:5]}")

    def H_OUTPUT_REJECT(self) -> None:
        m = self.run.manifest
        if m is None:
            if not self.run.error_lines:
                self._fail("H_OUTPUT_REJECT", "no manifest and no error line")
            if self.delivered_files():
                self._fail("H_OUTPUT_REJECT", "files delivered although the run failed")
            return
        for r in m["rejected"]:
            if not r.get("reason"):
                self._fail("H_OUTPUT_REJECT", f"rejection without a reason: {r}")
        listed = {f["path"] for f in m["files"]}
        on_disk = {str(p) for p in self.delivered_files()}
        if listed != on_disk:
            self._fail("H_OUTPUT_REJECT", f"manifest {sorted(listed)} != disk {sorted(on_disk)}")
        only = self.attack.deliver_only if self.attack else None
        if only is not None and self.delivered_names() != only:
            self._fail(
                "H_OUTPUT_REJECT",
                f"delivered {sorted(self.delivered_names())}, expected exactly {sorted(only)}",
            )

    def H_COPY_NO_HANG(self) -> None:
        m = self.run.manifest
        if m is None:
            return
        outside_run = self.run.wall_s - float(m.get("duration_s") or 0)
        if outside_run > 10:
            self._fail("H_COPY_NO_HANG", f"start + copy-out + teardown took {outside_run:.1f} s")

    def H_HOST_FS_UNCHANGED(self, before: set[str]) -> None:
        after = canary_files(self.fs_places())
        new = sorted(after - before)
        if new:
            self._fail("H_HOST_FS_UNCHANGED", f"new canary files on the host: {new}")

    def fs_places(self) -> list[Path]:
        places = [self.run.cwd, self.run.out.parent, Path("/tmp"), REPO, Path.home()]
        if self.run.out.exists():
            places += [Path(d) for d, _, _ in os.walk(self.run.out)]
        return places

    def H_HOST_RESOURCES(self, baseline_rss: int) -> None:
        from promptkiln.config import load_settings

        limits = load_settings().limits.to_limits()
        s = self.run.samples
        for path, series in s.disk_free.items():
            drop = s.max_drop(series)
            if drop > limits.disk_bytes + 256 * 2**20:
                self._fail("H_HOST_RESOURCES", f"free disk on {path} dropped by {drop >> 20} MiB")
        drop = s.max_drop(s.mem_available)
        if drop > limits.memory_bytes + 512 * 2**20:
            self._fail("H_HOST_RESOURCES", f"host available memory dropped by {drop >> 20} MiB")
        peak = max(s.cli_rss, default=0)
        if peak > baseline_rss + 64 * 2**20:
            self._fail(
                "H_HOST_RESOURCES",
                f"the CLI's RSS peaked at {peak >> 20} MiB (a benign run: {baseline_rss >> 20} MiB)",
            )

    def H_LOG_CAP(self) -> None:
        from promptkiln.config import load_settings
        from promptkiln.records.store import Store

        settings = load_settings()
        cap = settings.limits.log_bytes
        m = self.run.manifest
        if m is None or not (m.get("stdout_truncated") or m.get("stderr_truncated")):
            self._fail("H_LOG_CAP", "the output flood is not marked truncated in --json")
        shown = len(self.run.stderr_bytes)
        # Two streams of at most ``cap`` bytes each; an escaped byte shows as at most 6 chars.
        if shown > 2 * cap * 6 + 64 * 1024:
            self._fail("H_LOG_CAP", f"the CLI showed {shown} bytes of script output")
        if "truncated" not in self.run.stderr:
            self._fail("H_LOG_CAP", "the shown output does not say it was truncated")
        with Store.open(settings.home) as store:
            records = store.runs(limit=1)
        if not records:
            self._fail("H_LOG_CAP", "no run record was stored")
        body = records[0].body
        for name in ("stdout", "stderr"):
            kept = body[name]["text"] or ""
            if len(kept.encode()) > cap * 3:  # U+FFFD for undecodable bytes is 3 bytes
                self._fail("H_LOG_CAP", f"stored {name} holds {len(kept)} characters")
        if not (body["stdout"]["dropped"] or body["stderr"]["dropped"]):
            self._fail("H_LOG_CAP", "the stored record does not mark the output truncated")

    def H_CLEAR_ERROR(self, *needles: str) -> None:
        if "Traceback" in self.run.stderr:
            self._fail("H_CLEAR_ERROR", "a traceback reached the user")
        if self.run.returncode == 0:
            return
        errors = self.run.error_lines
        if len(errors) != 1:
            self._fail("H_CLEAR_ERROR", f"expected one 'error: ' line, got {errors}")
        if needles and not any(n in errors[0] for n in needles):
            self._fail("H_CLEAR_ERROR", f"{errors[0]!r} does not say {' or '.join(needles)}")

    def H_SAFE_MODES(self) -> None:
        uid = os.getuid()
        for p in self.run.delivered():
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                self._fail("H_SAFE_MODES", f"{p} is a symbolic link")
            if stat.S_ISDIR(st.st_mode):
                if st.st_mode & 0o7022:
                    self._fail("H_SAFE_MODES", f"directory {p} has mode {oct(st.st_mode)}")
                continue
            if not stat.S_ISREG(st.st_mode):
                self._fail("H_SAFE_MODES", f"{p} is not a regular file ({oct(st.st_mode)})")
            if st.st_uid != uid or st.st_mode & 0o7133 or st.st_nlink != 1:
                self._fail(
                    "H_SAFE_MODES",
                    f"{p}: uid {st.st_uid}, mode {oct(st.st_mode)}, {st.st_nlink} links",
                )
            real = os.path.realpath(p)
            if not real.startswith(os.path.realpath(self.run.out) + os.sep):
                self._fail("H_SAFE_MODES", f"{p} resolves outside --out: {real}")
            if st.st_mtime > time.time() + 60:
                self._fail("H_SAFE_MODES", f"{p} has an mtime in the future")

    def H_SANITIZED_RENDER(self) -> None:
        for name, data in (("stdout", self.run.stdout_bytes), ("stderr", self.run.stderr_bytes)):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._fail("H_SANITIZED_RENDER", f"the CLI's {name} is not valid UTF-8: {exc}")
            bad = RAW_CONTROL.search(text)
            if bad is None:
                bad = next(
                    (
                        re.match(".", c)
                        for c in text
                        if c not in "\n\t" and unicodedata.category(c) in ("Cc", "Cf")
                    ),
                    None,
                )
            if bad is not None:
                at = bad.start() if bad.string is text else 0
                self._fail(
                    "H_SANITIZED_RENDER",
                    f"raw {bad.group(0)!r} in the CLI's {name} near {text[max(0, at - 40) : at + 40]!r}",
                )

    def sandbox_config(self) -> None:
        """From the engine's side: every container of the run was locked down as designed."""
        for cid, attrs in self.run.samples.containers.items():
            hc = attrs["HostConfig"]
            problems = []
            if hc.get("NetworkMode") != "none":
                problems.append(f"network {hc.get('NetworkMode')}")
            if hc.get("Privileged"):
                problems.append("privileged")
            if not hc.get("ReadonlyRootfs"):
                problems.append("writable root")
            if "ALL" not in (hc.get("CapDrop") or []) or hc.get("CapAdd"):
                problems.append(f"capabilities {hc.get('CapAdd')} / {hc.get('CapDrop')}")
            if not any("no-new-privileges" in o for o in hc.get("SecurityOpt") or []):
                problems.append("no no-new-privileges")
            binds = [b for b in hc.get("Binds") or [] if b.startswith("/")]
            if binds or any(m.get("Type") != "volume" for m in attrs.get("Mounts", [])):
                problems.append(f"host mounts {binds} {attrs.get('Mounts')}")
            if not hc.get("PidsLimit") or not hc.get("Memory") or not hc.get("NanoCpus"):
                problems.append("missing pids/memory/CPU limit")
            if (hc.get("LogConfig") or {}).get("Type") != "none":
                problems.append(f"log driver {(hc.get('LogConfig') or {}).get('Type')}")
            user = attrs["Config"].get("User") or "root"
            if user.split(":")[0] in ("", "0", "root"):
                problems.append(f"user {user}")
            env = " ".join(attrs["Config"].get("Env") or [])
            if self.host.token in env:
                problems.append("host canary in the container environment")
            if problems:
                self._fail("sandbox config", f"container {cid[:12]}: {', '.join(problems)}")
