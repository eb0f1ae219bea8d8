"""``promptkiln doctor``: what works here, what isolation is in use, and what to fix."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass

from promptkiln.config import Settings, config_file
from promptkiln.errors import PromptkilnError


@dataclass(frozen=True)
class Check:
    name: str
    status: str  #: "ok", "warn", "fail" or "info"
    detail: str
    hint: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


ISOLATION = {
    "runc": (
        "Linux namespaces + cgroups (runc): no network, read-only root, all capabilities "
        "dropped, no-new-privileges, the script as uid 1000 and PID 1 as uid 1001, memory/pids/CPU limits; the host kernel is "
        "shared, so a kernel exploit could escape"
    ),
    "runsc": (
        "gVisor (runsc): the same limits, and the script's system calls go to gVisor's "
        "user-space kernel instead of the host's, which guards against host-kernel exploits "
        "(about 2x the start-up time)"
    ),
}


def _docker_checks(settings: Settings) -> list[Check]:
    from promptkiln.sandbox.docker import connect

    checks: list[Check] = []
    try:
        client = connect(settings.docker_host, timeout=10)
    except PromptkilnError as exc:
        return [Check("docker engine", "fail", exc.message, exc.hint)]
    info = client.info()
    checks.append(
        Check(
            "docker engine",
            "ok",
            f"Docker {info.get('ServerVersion', '?')}, cgroup v{info.get('CgroupVersion', '?')}, "
            f"{info.get('NCPU', '?')} CPUs, {int(info.get('MemTotal', 0)) / 2**30:.1f} GiB",
        )
    )
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    wanted = settings.runtime or "runc"
    has_runsc = "runsc" in runtimes
    if wanted in runtimes:
        checks.append(Check("runtime", "ok", f"{wanted} (engine has: {', '.join(runtimes)})"))
    else:
        checks.append(
            Check(
                "runtime",
                "fail",
                f"the engine has no runtime {wanted!r} (it has: {', '.join(runtimes)})",
                "install gVisor and register runsc in /etc/docker/daemon.json, or use --runtime runc",
            )
        )
    checks.append(Check("isolation", "info", ISOLATION.get(wanted, wanted)))
    if not has_runsc and wanted != "runsc":
        checks.append(
            Check(
                "gvisor",
                "info",
                "not available: `--runtime runsc` would add a user-space kernel between the "
                "script and the host",
            )
        )
    try:
        from promptkiln.image.status import image_status

        status = image_status(client, settings.image)
        ok = bool(getattr(status, "exists", False))
        stale = bool(getattr(status, "stale", False))
        checks.append(
            Check(
                "sandbox image",
                "ok" if ok and not stale else ("warn" if ok else "fail"),
                str(status),
                None if ok and not stale else "run `promptkiln image build`",
            )
        )
    except PromptkilnError as exc:
        checks.append(Check("sandbox image", "fail", exc.message, exc.hint))
    return checks


def _limit_check(settings: Settings) -> Check:
    lim = settings.limits
    return Check(
        "limits",
        "info",
        f"{lim.cpus:g} CPUs, {lim.memory / 2**20:.0f} MiB memory, {lim.pids} processes, "
        f"{lim.timeout:g} s, {lim.disk / 2**20:.0f} MiB scratch, outputs ≤ {lim.output_files} files "
        f"/ {lim.output_bytes / 2**20:.0f} MiB, network none",
    )


def _pool_check(settings: Settings) -> Check:
    from promptkiln.sandbox.pool import WARM_SANDBOX_MIB

    pool = settings.pool
    if pool.size <= 0:
        return Check("warm pool", "info", "off ([pool] size = 0): every job starts a cold sandbox")
    return Check(
        "warm pool",
        "info",
        f"size {pool.size}, idle lifetime {pool.idle:g} s: about {pool.size * WARM_SANDBOX_MIB} "
        f"MiB of memory while `promptkiln serve` holds it ({WARM_SANDBOX_MIB} MiB per warm "
        "sandbox); `make` warms one sandbox while the model generates",
        "set [pool] size = 0 (PROMPTKILN_POOL__SIZE=0) to turn it off",
    )


def _e2b_check(settings: Settings) -> Check:
    try:
        version = importlib.metadata.version("e2b")
    except importlib.metadata.PackageNotFoundError:
        return Check("e2b", "info", "SDK not installed", "pip install 'promptkiln[e2b]'")
    try:
        e2b_backend = importlib.import_module("promptkiln.sandbox.e2b")

        describe: Callable[[Settings], str] | None = getattr(e2b_backend, "describe", None)
        detail = describe(settings) if describe else f"SDK {version}"
    except ImportError as exc:
        return Check("e2b", "warn", f"SDK {version} but the backend failed to load: {exc}")
    return Check("e2b", "info", detail)


def _model_check(settings: Settings) -> Check:
    if settings.model:
        where = f" at {settings.api_base}" if settings.api_base else ""
        return Check("model", "ok", f"{settings.model}{where}")
    try:
        from promptkiln.llm import local

        desc = local.describe(settings)
    except (ImportError, PromptkilnError) as exc:
        return Check("model", "warn", f"bundled model unavailable: {exc}")
    where = desc["path"] if desc["present"] else "not assembled yet (the first `make` fetches it)"
    server = f", server at {desc['url']}" if desc.get("server_running") else ""
    return Check(
        "model", "ok" if desc["present"] else "info", f"bundled {desc['name']}: {where}{server}"
    )


def _store_check(settings: Settings) -> Check:
    """Which store, where, at which schema version; on PostgreSQL the server's version, the
    queue depth and the server replicas seen in the last minute."""
    import time

    from promptkiln.records.store import MIGRATIONS, open_store

    try:
        with open_store(settings) as store:
            version = store.schema_version
            if store.dialect == "sqlite":
                return Check("store", "ok", f"SQLite {store.where}, schema version {version}")
            pg = store.conn.execute("SHOW server_version").fetchone()[0]
            queued = store.conn.execute(
                "SELECT count(*) FROM jobs WHERE status = 'queued'"
            ).fetchone()[0]
            recent = [
                f"{r[0]} ({r[1]})"
                for r in store.conn.execute(
                    "SELECT id, host FROM replicas WHERE last_seen > ? ORDER BY id",
                    (time.time() - 60,),
                )
            ]
            seen = ", ".join(recent) if recent else "none"
            return Check(
                "store",
                "ok",
                f"PostgreSQL {pg} at {store.where}, schema version {version}/{len(MIGRATIONS)}; "
                f"queue depth {queued}; replicas seen in the last minute: {seen}",
            )
    except PromptkilnError as exc:
        return Check("store", "fail", exc.message, exc.hint)


def run_checks(settings: Settings) -> list[Check]:
    checks = [
        Check(
            "config",
            "info",
            f"{config_file()} ({'present' if config_file().exists() else 'absent'})",
        )
    ]
    if settings.backend == "docker":
        checks += _docker_checks(settings)
        checks.append(_pool_check(settings))
    checks.append(_store_check(settings))
    checks.append(_limit_check(settings))
    checks.append(_e2b_check(settings))
    checks.append(_model_check(settings))
    if shutil.which("debootstrap") is None:
        checks.append(
            Check(
                "offline build",
                "info",
                "debootstrap not found: `promptkiln image build` needs a registry",
                "apt-get install debootstrap for the air-gapped path",
            )
        )
    return checks
