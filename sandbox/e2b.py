"""The ``e2b`` backend: one E2B sandbox (a Firecracker microVM) per run, through the e2b SDK.

Shape of a run::

    create   Sandbox.create(template, timeout=<always set>, allow_internet_access=False unless
             asked, envs={} (nothing from the host), metadata = promptkiln labels for reaping)
    inputs   one multipart upload of work/inputs/* and .promptkiln/main.py (as uid 1000 "user")
    run      commands.run(python3 main.py) in /home/user/work, in a worker thread; stdout and
             stderr arrive through callbacks into capped buffers; the wall clock is enforced
             here: on timeout the whole sandbox is killed. Kernel mode ([e2b] kernel): the
             script runs in the template's warm Jupyter kernel instead (e2b_kernel.py)
    outputs  every process the run may have left is SIGKILLed: all of "user" (``kill -9 -1``
             as that uid) and any other not in the baseline taken at creation (the user can
             become root on E2B), repeated until /proc shows none, run by root so the user's
             dotfiles play no part; then the working directory is walked with files.list
             (envd's ListDir: type, size, symlink target, never following links), and regular
             files are read as byte streams, capped
    close    Sandbox.kill; idempotent; also on Ctrl-C and at interpreter exit

Every e2b, httpx and transport exception is translated into the promptkiln error tree
(:func:`translate_errors`); none escapes. The SDK needs the v2 control-plane routes
(``POST /v2/sandboxes``, e2b >= 2.51); see :func:`sdk_report`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import posixpath
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from promptkiln.errors import SandboxError, UsageError
from promptkiln.sandbox import e2b_kernel as kernel_mode
from promptkiln.sandbox import e2b_outputs
from promptkiln.sandbox.base import (
    INPUTS_DIR,
    SCRIPT_PATH,
    WORKDIR,
    EntryKind,
    InputFile,
    Limits,
    MiB,
    OutputEntry,
    RunResult,
    SandboxInfo,
    Termination,
)
from promptkiln.sandbox.e2b_errors import template_error, translate_errors
from promptkiln.sandbox.e2b_ops import (
    SUPPORTED_SDK,
    api_options,
    describe,
    labels,
    reap,
    sdk_report,
    sdk_version,
)
from promptkiln.sandbox.e2b_parts import (
    LIFETIME_MARGIN_S,
    SANDBOX_ENV,
    USER,
    Capture,
    E2BEntry,
    Outcome,
    read_capped,
)
from promptkiln.sandbox.e2b_scripts import BASELINE_SCRIPT
from promptkiln.sandbox.live import OutputSink

if TYPE_CHECKING:
    import e2b

    from promptkiln.config import Settings


def _sdk() -> Any:
    import e2b

    return e2b


class E2BSandbox:
    """A sandbox in an E2B microVM. See the module docstring."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.run_id = run_id
        self.settings = settings
        self.limits: Limits = settings.limits.to_limits()
        self.template = settings.e2b.template
        self.allow_internet = settings.e2b.allow_internet
        #: Kernel mode: the script runs in the template's Jupyter kernel (run_code), whose
        #: user (root on E2B's stock template) owns what it writes; outputs are read as root.
        self.kernel = settings.e2b.kernel
        self._files_user = "root" if self.kernel else USER
        self._kernel_proc = ""
        #: Seconds the sandbox may live: always set, and long enough for the run it hosts.
        self.lifetime_s = min(
            24 * 3600,
            max(settings.e2b.sandbox_timeout, int(self.limits.timeout_s) + LIFETIME_MARGIN_S),
        )
        cfg = settings.e2b
        #: Where the control plane is, for error messages.
        self.endpoint = (
            cfg.api_url
            or os.environ.get("E2B_API_URL")
            or f"https://api.{cfg.domain or os.environ.get('E2B_DOMAIN') or 'e2b.app'}"
        )
        self._sbx: e2b.Sandbox | None = None
        #: "pid:starttime" of the processes that existed before any script ran.
        self._baseline = ""
        self._dead = False
        self._closed = False
        self.info = SandboxInfo(
            backend="e2b",
            image=self.template,
            runtime="e2b",
            network="internet" if self.allow_internet else "none",
            extra={
                "sdk": sdk_version() or "?",
                "lifetime_s": str(self.lifetime_s),
                "run": "kernel" if self.kernel else "command",
            },
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        opts = api_options(self.settings)
        # Kernel mode: the code-interpreter SDK's Sandbox, the same sandbox with run_code.
        kind = kernel_mode.code_interpreter().Sandbox if self.kernel else _sdk().Sandbox
        with translate_errors(
            "creating the E2B sandbox", on_status={404: self._not_found}, endpoint=self.endpoint
        ):
            self._sbx = kind.create(
                template=self.template,
                timeout=self.lifetime_s,
                metadata=labels(self.run_id),
                envs={},
                allow_internet_access=self.allow_internet,
                **opts,
            )
        atexit.register(self.close)
        self.info.extra["sandbox_id"] = self._sbx.sandbox_id
        with translate_errors("inspecting the new E2B sandbox", endpoint=self.endpoint):
            try:
                found = self._sbx.commands.run(BASELINE_SCRIPT, user="root", cwd="/", envs={})
                self._baseline = " ".join((found.stdout or "").split())
            except _sdk().CommandExitException:
                self._baseline = ""  # then only the user's processes are stopped

    def _not_found(self, message: str) -> Exception:
        return template_error(self.template, message)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._kill_sandbox()

    def _kill_sandbox(self) -> None:
        sbx, already = self._sbx, self._dead
        self._dead = True
        if sbx is None or already:
            return
        # Best effort: a sandbox we cannot reach dies at its timeout (always set) and can be
        # listed and reaped by its labels (`reap`).
        with contextlib.suppress(Exception):
            sbx.kill(request_timeout=15)

    def __enter__(self) -> E2BSandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def sbx(self) -> e2b.Sandbox:
        if self._sbx is None or self._dead:
            raise SandboxError(
                "the E2B sandbox is not running", hint="start() it first; it cannot be reused"
            )
        return self._sbx

    # -- files in --------------------------------------------------------------------------

    def put_inputs(self, files: Sequence[InputFile], script: bytes) -> None:
        total = len(script) + sum(len(f.data) for f in files)
        if total > self.limits.disk_bytes // 2:
            raise UsageError(
                f"the inputs add up to {total / MiB:.1f} MiB, more than half the sandbox's "
                f"{self.limits.disk_bytes / MiB:.0f} MiB scratch space",
                hint="raise the disk limit (PROMPTKILN_LIMITS__DISK or [limits] disk) or pass "
                "fewer inputs",
            )
        entries: list[Any] = []
        for f in files:
            name = posixpath.normpath(f.name)
            if f.name.startswith("/") or name in (".", "..") or name.startswith("../"):
                raise UsageError(f"input name {f.name!r} leaves the inputs directory")
            entries.append({"path": f"{WORKDIR}/{INPUTS_DIR}/{name}", "data": f.data})
        entries.append({"path": SCRIPT_PATH, "data": script})
        sbx = self.sbx
        with translate_errors("copying inputs into the E2B sandbox", endpoint=self.endpoint):
            sbx.files.make_dir(f"{WORKDIR}/{INPUTS_DIR}", user=USER)
            sbx.files.write_files(entries, user=USER)

    # -- run ---------------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, timeout_s: float, on_output: OutputSink | None = None
    ) -> RunResult:
        sbx = self.sbx
        cap = self.limits.log_bytes
        out, err = Capture(cap, on_output, "stdout"), Capture(cap, on_output, "stderr")
        outcome = Outcome()
        e2b = _sdk()
        command = "exec " + shlex.join(list(argv))
        cell = kernel_mode.runner_cell(argv, WORKDIR, SANDBOX_ENV) if self.kernel else ""

        def wait() -> None:
            try:
                if self.kernel:
                    # A backstop only, as below: the wall clock here ends the run.
                    kernel_mode.run_cell(
                        sbx, cell, out, err, outcome, timeout_s + LIFETIME_MARGIN_S
                    )
                    return
                handle = sbx.commands.run(
                    command,
                    background=True,
                    cwd=WORKDIR,
                    envs=dict(SANDBOX_ENV),
                    user=USER,
                    # A backstop only: the wall clock below is what ends the run.
                    timeout=timeout_s + LIFETIME_MARGIN_S,
                    retain_output=False,
                )
                outcome.exit_code = handle.wait(on_stdout=out, on_stderr=err).exit_code
            except e2b.CommandExitException as exc:
                outcome.exit_code = exc.exit_code
            except BaseException as exc:  # handed to the caller's thread below
                outcome.error = exc

        started = time.monotonic()
        deadline = started + timeout_s
        worker = threading.Thread(target=wait, name="promptkiln-e2b-run", daemon=True)
        termination = Termination.EXITED
        try:
            worker.start()
            while worker.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    termination = Termination.TIMEOUT
                    self._kill_sandbox()  # the whole VM: nothing of the run survives
                    worker.join(timeout=5)
                    break
                worker.join(timeout=min(remaining, 0.25))
        except BaseException:  # Ctrl-C: the sandbox never outlives us
            self.close()
            raise
        duration = time.monotonic() - started
        self._kernel_proc = outcome.kernel
        if termination is Termination.EXITED and outcome.note:
            err(outcome.note)
        if termination is Termination.EXITED and outcome.error is not None:
            if self.kernel:
                kernel_mode.no_kernel(outcome.error, self.template)
            with translate_errors("running the script in the E2B sandbox", endpoint=self.endpoint):
                raise outcome.error
        return RunResult(
            exit_code=outcome.exit_code if termination is Termination.EXITED else None,
            stdout=out.result(),
            stderr=err.result(),
            duration_s=duration,
            termination=termination,
        )

    # -- files out ---------------------------------------------------------------------------

    def stop_processes(self) -> list[tuple[EntryKind, str]]:
        """SIGKILL every process of the sandbox user (raise if any survives); return the special
        files of the working directory as (kind, name relative to it)."""
        return e2b_outputs.stop_processes(self)

    def outputs(self) -> Iterator[OutputEntry]:
        """Stop every process, then walk the working directory with envd's ListDir."""
        if self._dead or self._sbx is None:
            return
        yield from e2b_outputs.walk(self)

    def _read_chunks(self, path: str, limit: int) -> Iterator[bytes]:
        """Stream a regular file's bytes from envd, at most ``limit`` + 1 in all."""
        with translate_errors(f"reading {path} from the E2B sandbox", endpoint=self.endpoint):
            yield from read_capped(
                self.sbx.files.read(path, format="stream", user=self._files_user), limit
            )

    def read_sidecar(self, path: str, limit: int) -> bytes | None:
        """A small file the template's hooks wrote outside the working directory (the chart
        facts); None if missing, unreadable or larger than ``limit`` bytes."""
        if self._dead or self._sbx is None:
            return None
        try:
            data = b"".join(self._read_chunks(path, limit))
        except Exception:  # missing file, a sandbox gone meanwhile: no facts, not an error
            return None
        return data if len(data) <= limit else None


def create(settings: Settings, run_id: str) -> E2BSandbox:
    """Registry factory for the ``e2b`` backend."""
    return E2BSandbox(settings, run_id)


__all__ = [
    "LIFETIME_MARGIN_S",
    "SANDBOX_ENV",
    "SUPPORTED_SDK",
    "USER",
    "E2BEntry",
    "E2BSandbox",
    "api_options",
    "create",
    "describe",
    "reap",
    "sdk_report",
    "sdk_version",
    "translate_errors",
]
