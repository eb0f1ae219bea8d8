"""A dockerd of our own, never the shared one: its own socket, data root and exec root, no bridge
and no iptables. Used by the fault tests (an engine stopped mid-run) and the air-gap bundle test
(an engine that does not have the sandbox image yet). Importable as ``private_engine``:
tests/integration/conftest.py puts this directory on ``sys.path``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest


class PrivateEngine:
    """A dockerd of our own in ``root``: start, stop (SIGTERM, like `systemctl stop docker`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "d.sock"
        self.host = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None
        (root / "daemon.json").write_text("{}")

    def start(self) -> None:
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 - lives as long as the daemon
        self.proc = subprocess.Popen(
            [
                "dockerd", "--host", self.host, "--config-file", str(self.root / "daemon.json"),
                "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                "--pidfile", str(self.root / "dockerd.pid"), "--bridge=none",
                "--iptables=false", "--ip-masq=false", "--ip6tables=false",
            ],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        import docker

        deadline = time.monotonic() + 60
        while True:
            try:
                docker.DockerClient(base_url=self.host, timeout=5).ping()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "dockerd.log").read_text()[-2000:]
                    pytest.fail(f"the private dockerd did not start:\n{tail}")
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
