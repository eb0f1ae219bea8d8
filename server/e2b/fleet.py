"""The sandboxes a server runs for E2B clients: create, find (by tenant), time out, kill, adopt.

A :class:`Fleet` holds the live sandboxes in memory; each one's truth is its container (box.py):
the state and deadline are kept inside it, so :meth:`Fleet.start` adopts the sandboxes a previous
run of the server left (and removes those past their deadline), and a sandbox whose server is
gone still ends at its deadline. Creates are refused with :class:`Refused` (429 when the tenant
is at its quota, 503 when the server is at its fleet limit), in E2B's own words. A warm pool
(pool.py) makes a create of a pooled template one ``docker exec`` instead of a container start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkiln.server.e2b.box import Box, BoxSpec, new_id, running
from promptkiln.server.e2b.early import EarlyStates
from promptkiln.server.e2b.kernel_start import start_kernel
from promptkiln.server.e2b.pool import Pool

log = logging.getLogger("promptkiln.server.e2b")
#: Seconds a claimed warm sandbox waits before its state is kept in it (its own deadline, at
#: least a minute away, covers the moment).
SAVE_DELAY_S = 1.0

#: E2B's answer to a team at its concurrency limit (the SDK matches these words).
AT_LIMIT = (
    "You have reached the maximum number of concurrent E2B sandboxes ({n}). If you need more, "
    "please contact us at 'https://e2b.dev/docs/getting-help'"
)


@dataclass(frozen=True)
class Owner:
    """Who a sandbox belongs to, and what that tenant may do."""

    tenant_id: str
    key_id: str
    tenant_name: str = ""
    max_sandboxes: int | None = None  #: live sandboxes at once
    per_hour: int | None = None  #: sandboxes created per hour
    internet: bool = False  #: may a sandbox of this tenant reach the internet


class Refused(Exception):
    """A create the fleet will not do: ``status`` (429, 503) and E2B's ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class SandboxRecord:
    sandbox_id: str
    template: str
    tenant_id: str
    key_id: str
    metadata: dict[str, str]
    env_vars: dict[str, str]
    allow_internet_access: bool | None
    started_at: float
    end_at: float
    box: Box
    access_token: str
    timer: threading.Timer | None = field(default=None, repr=False)
    saving: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def save(self) -> None:
        """Keep the state and the current deadline in the container (serialised: the last
        save always writes the newest deadline)."""
        with self.saving:
            if not self.box.dead:
                self.box.save(self.state(), self.end_at)

    def state(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "tenant_id": self.tenant_id,
            "key_id": self.key_id,
            "metadata": self.metadata,
            "env_vars": self.env_vars,
            "allow_internet_access": self.allow_internet_access,
            "started_at": self.started_at,
            "access_token": self.access_token,
        }


#: What a finished process or cell is recorded as: (record, kind, script, exit code, stdout,
#: stderr, seconds).
Recorder = Callable[[SandboxRecord, str, str, int | None, str, str, float], None]


class Fleet:
    def __init__(
        self,
        spec: BoxSpec,
        *,
        server: str,
        templates: dict[str, bool],
        max_sandboxes: int | None = None,
        pool_size: int = 0,
        recorder: Recorder | None = None,
        envd_version: str = "0.6.4",
        state_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        #: A claimed warm sandbox's state, written at once (its container gets it a moment
        #: later): a server killed in that moment still adopts it.
        self.early = EarlyStates(state_dir)
        self.server = server
        #: template name -> whether its sandboxes run the code-interpreter kernel
        self.templates = dict(templates)
        self.max_sandboxes = max_sandboxes
        self.recorder = recorder
        self.envd_version = envd_version
        self._records: dict[str, SandboxRecord] = {}
        self._created: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._starting = 0
        self.pool = Pool(self._new_box, {t: pool_size for t in self.templates})

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Fleet:
        self.adopt()
        self.pool.start()
        return self

    def stop(self, *, kill: bool = False) -> None:
        """Stop the timers and the pool; ``kill`` also ends the live sandboxes (otherwise they
        live on to their deadline and the next start adopts them)."""
        self.pool.stop()
        for sid, record in list(self._records.items()):
            if kill:
                self.kill(sid)
            elif record.timer is not None:
                record.timer.cancel()

    def adopt(self) -> int:
        """Take over the live sandboxes a previous run of this server left; remove the rest."""
        adopted = 0
        for c in running(self.server):
            labels = c.get("Labels") or {}
            sid = labels.get("promptkiln.e2b.sandbox", "")
            box = Box(
                self.spec,
                sid,
                server=self.server,
                kernel=labels.get("promptkiln.e2b.kernel") == "1",
                container_id=c["Id"],
            )
            state: dict[str, Any] = {}
            deadline = 0.0
            if c.get("State") == "running":
                state, deadline = box.load()
                early = not state
                if early:
                    state, deadline = self.early.read(sid)
            if not state or deadline <= time.time() or sid in self._records:
                box.destroy()
                continue
            box.env = dict(state.get("env_vars") or {})
            record = SandboxRecord(
                sid,
                state["template"],
                state["tenant_id"],
                state["key_id"],
                dict(state.get("metadata") or {}),
                box.env,
                state.get("allow_internet_access"),
                float(state.get("started_at") or time.time()),
                deadline,
                box,
                state["access_token"],
            )
            with self._lock:
                self._records[sid] = record
            if early:
                record.save()
                self.early.drop(sid)
            self.set_timeout(sid, deadline - time.time(), keep=True)
            adopted += 1
        return adopted

    # -- lookups -----------------------------------------------------------------------------
    def live(self, tenant_id: str | None = None) -> list[SandboxRecord]:
        with self._lock:
            records = list(self._records.values())
        return [r for r in records if tenant_id is None or r.tenant_id == tenant_id]

    def record(self, sandbox_id: str, tenant_id: str | None = None) -> SandboxRecord | None:
        """The sandbox, if it lives (and, given ``tenant_id``, belongs to that tenant)."""
        with self._lock:
            record = self._records.get(sandbox_id)
        if record is None or (tenant_id is not None and record.tenant_id != tenant_id):
            return None
        return record

    def box_for(self, sandbox_id: str | None) -> Box | None:
        record = self.record(sandbox_id or "")
        return None if record is None or record.box.dead else record.box

    # -- create, time out, kill --------------------------------------------------------------
    def _admit(self, owner: Owner) -> None:
        now = time.time()
        with self._lock:
            mine = sum(1 for r in self._records.values() if r.tenant_id == owner.tenant_id)
            if owner.max_sandboxes is not None and mine >= owner.max_sandboxes:
                raise Refused(429, AT_LIMIT.format(n=owner.max_sandboxes))
            created = self._created.setdefault(owner.tenant_id, deque())
            while created and created[0] < now - 3600:
                created.popleft()
            if owner.per_hour is not None and len(created) >= owner.per_hour:
                raise Refused(
                    429,
                    f"You have reached the limit of {owner.per_hour} sandboxes started per hour; "
                    "wait, or ask the operator to raise the tenant's quota",
                )
            total = len(self._records) + self._starting
            if self.max_sandboxes is not None and total >= self.max_sandboxes:
                raise Refused(
                    503,
                    f"the server runs its limit of {self.max_sandboxes} sandboxes; try again "
                    "when one ends, or ask the operator to raise --e2b-max-sandboxes",
                )
            created.append(now)
            self._starting += 1

    def _new_box(
        self,
        template: str,
        deadline: float,
        network: bool = False,
        env: dict[str, str] | None = None,
    ) -> Box:
        box = Box(
            self.spec,
            new_id(),
            server=self.server,
            kernel=self.templates[template],
            network=network,
        )
        box.env = dict(env or {})  # before the kernel starts: it gets them too
        box.start(deadline)
        if box.kernel:
            try:
                start_kernel(box)
            except Exception:
                box.destroy()
                raise
        return box

    def create(
        self,
        owner: Owner,
        *,
        template: str,
        timeout: int,
        metadata: dict[str, str],
        env_vars: dict[str, str],
        allow_internet_access: bool | None,
    ) -> SandboxRecord:
        """A new sandbox for ``owner``; raises :class:`Refused` at a quota or the fleet limit."""
        internet = bool(allow_internet_access) and owner.internet
        self._admit(owner)
        record = None
        try:
            kernel = self.templates[template]
            box = None
            if not internet and not (kernel and env_vars):
                box = self.pool.take(template)
            pooled = box is not None
            if box is None:
                box = self._new_box(template, time.time() + timeout, network=internet, env=env_vars)
            now = time.time()  # the sandbox's life starts once it is there
            box.env = dict(env_vars)
            record = SandboxRecord(
                box.sandbox_id,
                template,
                owner.tenant_id,
                owner.key_id,
                metadata,
                box.env,
                internet if allow_internet_access is not None else None,
                now,
                now + timeout,
                box,
                access_token=secrets.token_hex(16),
            )
            if pooled:  # its own deadline covers the moment until the state is kept
                self.early.write(record.sandbox_id, record.state(), record.end_at)
                threading.Thread(target=self._save_quietly, args=(record,), daemon=True).start()
            else:
                record.save()
        except Exception:
            if record is not None:
                record.box.destroy()
            raise
        finally:
            with self._lock:  # counted as starting until it is counted as live
                self._starting -= 1
                if record is not None:
                    self._records[record.sandbox_id] = record
        self.set_timeout(record.sandbox_id, timeout, keep=True)
        return record

    def _save_quietly(self, record: SandboxRecord) -> None:
        time.sleep(SAVE_DELAY_S)  # after the client's first command, not in its way
        try:
            record.save()
            self.early.drop(record.sandbox_id)
        except Exception:
            log.exception("could not keep the state of sandbox %s", record.sandbox_id)

    def set_timeout(self, sandbox_id: str, timeout: float, *, keep: bool = False) -> bool:
        """End the sandbox ``timeout`` seconds from now (``keep``: at the ``end_at`` it already
        has, which its container knows)."""
        record = self.record(sandbox_id)
        if record is None:
            return False
        if record.timer is not None:
            record.timer.cancel()
        if keep:
            timeout = record.end_at - time.time()
        else:
            record.end_at = time.time() + timeout
            record.save()
        record.timer = threading.Timer(max(0.0, timeout), self.kill, args=(sandbox_id,))
        record.timer.daemon = True
        record.timer.start()
        return True

    def kill(self, sandbox_id: str) -> bool:
        with self._lock:
            record = self._records.pop(sandbox_id, None)
        if record is None:
            return False
        if record.timer is not None:
            record.timer.cancel()
        record.box.destroy()
        self.early.drop(sandbox_id)
        return True

    # -- run records -------------------------------------------------------------------------
    def recorded(
        self,
        sandbox_id: str,
        kind: str,
        script: str,
        exit_code: int | None,
        stdout: str,
        stderr: str,
        started: float,
    ) -> None:
        record = self.record(sandbox_id)
        if self.recorder is not None and record is not None:
            self.recorder(record, kind, script, exit_code, stdout, stderr, time.time() - started)

    def recorded_cell(
        self, sandbox_id: str, code: str, run: Callable[[Callable[[bytes], None]], Iterator[bytes]]
    ) -> Iterator[bytes]:
        """Stream one code-interpreter cell's lines and record it as a run when it ends."""
        started = time.time()
        out: list[str] = []
        err: list[str] = []
        failed: list[str] = []

        def note(line: bytes) -> None:
            with contextlib.suppress(ValueError, AttributeError):
                item = json.loads(line)
                kind = item.get("type")
                if kind == "stdout":
                    out.append(str(item.get("text", "")))
                elif kind == "stderr":
                    err.append(str(item.get("text", "")))
                elif kind == "error":
                    failed.append(str(item.get("traceback", "")))

        yield from run(note)
        self.recorded(
            sandbox_id,
            "e2b-cell",
            code,
            1 if failed else 0,
            "".join(out),
            "".join(err) + "".join(failed),
            started,
        )
