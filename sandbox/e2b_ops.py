"""Around the ``e2b`` backend: connection options, the SDK check for ``promptkiln doctor``,
the labels every sandbox carries, and reaping leftovers by those labels."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promptkiln import leftovers
from promptkiln.errors import ConfigError
from promptkiln.sandbox.e2b_errors import KEY_HINT, translate_errors

if TYPE_CHECKING:
    from promptkiln.config import Settings

#: The SDK releases this backend is tested with (the `e2b` extra pins the same range).
SUPPORTED_SDK = ">=2.63,<2.64"
LABEL_KIND = leftovers.LABEL_KIND
LABEL_PID = leftovers.LABEL_PID
LABEL_HOST = leftovers.LABEL_HOST
LABEL_CREATED = leftovers.LABEL_CREATED
#: Per-request timeout for control-plane and file calls, in seconds.
REQUEST_TIMEOUT_S = 60.0


def sdk_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("e2b")
    except PackageNotFoundError:
        return None


def sdk_report() -> dict[str, str]:
    """What ``promptkiln doctor`` says about the E2B SDK."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    found = sdk_version()
    if found is None:
        return {"e2b": "not installed — pip install 'promptkiln[e2b]'"}
    ok = Version(found) in SpecifierSet(SUPPORTED_SDK)
    generation = "v2 (/v2/sandboxes)" if Version(found) >= Version("2.51") else "v1 (/sandboxes)"
    return {
        "e2b": f"{found} ({'supported' if ok else f'untested; supported: e2b{SUPPORTED_SDK}'})",
        "control plane": f"{generation}; the E2B API must serve POST /v2/sandboxes "
        "(E2B cloud does; self-hosted E2B must be recent enough)",
    }


def describe(settings: Settings) -> str:
    """One line for ``promptkiln doctor``: SDK, route generation, endpoint, template (offline)."""
    report = sdk_report()
    cfg = settings.e2b
    endpoint = (
        cfg.api_url
        or os.environ.get("E2B_API_URL")
        or (f"https://api.{cfg.domain or os.environ.get('E2B_DOMAIN') or 'e2b.app'}")
    )
    key = "set" if (cfg.api_key or os.environ.get("E2B_API_KEY")) else "not set (E2B_API_KEY)"
    return (
        f"SDK {report['e2b']}; control plane {report.get('control plane', '?')}; "
        f"API {endpoint}; key {key}; template {cfg.template}; "
        f"internet {'on' if cfg.allow_internet else 'off'}; lifetime {cfg.sandbox_timeout} s; "
        f"run {_run_mode(cfg.kernel)}"
    )


def _run_mode(kernel: bool) -> str:
    """Kernel mode and the code-interpreter SDK it needs, or the command path."""
    if not kernel:
        return "command (python3 through envd)"
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = f"e2b-code-interpreter {version('e2b-code-interpreter')}"
    except PackageNotFoundError:
        found = "e2b-code-interpreter NOT installed — pip install 'promptkiln[e2b]'"
    return f"kernel (run_code in the template's Jupyter kernel; {found})"


def labels(run_id: str) -> dict[str, str]:
    return leftovers.owner_labels(run_id)


def api_options(settings: Settings) -> dict[str, Any]:
    """SDK connection options from the settings; unset ones fall back to E2B's own variables
    (E2B_API_KEY, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL), as the SDK does."""
    cfg = settings.e2b
    opts: dict[str, Any] = {"request_timeout": REQUEST_TIMEOUT_S}
    for name in ("api_key", "domain", "api_url", "sandbox_url"):
        value = getattr(cfg, name)
        if value:
            opts[name] = value
    if not opts.get("api_key") and not os.environ.get("E2B_API_KEY"):
        raise ConfigError("no E2B API key is configured", hint=KEY_HINT)
    return opts


def reap(
    settings: Settings,
    *,
    everything: bool = False,
    gone: Callable[[str, str], bool] | None = None,
) -> list[str]:
    """Kill promptkiln's E2B sandboxes whose owner process is gone (or all of them); return
    their ids. Sandboxes are found by their ``promptkiln.kind`` metadata label.

    An owner on this host is judged by its pid (a sandbox with this process's own pid made
    before it started belongs to an earlier process that had the pid). An owner on another
    host is left to its sandbox timeout unless ``gone(pid, host)`` says it is dead: server
    replicas pass a check against the store's replica heartbeats, so they reap each other's
    leftovers across hosts without touching a live replica's sandboxes."""
    import e2b

    opts = api_options(settings)
    killed: list[str] = []
    with translate_errors("listing leftover E2B sandboxes"):
        paginator = e2b.Sandbox.list(
            query=e2b.SandboxQuery(metadata={LABEL_KIND: "sandbox"}), **opts
        )
        found = list(paginator.next_items())
        while paginator.has_next:
            found += paginator.next_items()
        for info in found:
            labels = info.metadata or {}
            # Another host's run is left to its own timeout.
            pid, host = labels.get(LABEL_PID), labels.get(LABEL_HOST)
            dead = (
                leftovers.owner_dead(pid, host)
                or leftovers.earlier_incarnation(pid, host, labels.get(LABEL_CREATED))
                or (gone is not None and bool(pid and host) and gone(str(pid), str(host)))
            )
            alive = not everything and not dead
            if not alive and e2b.Sandbox.kill(info.sandbox_id, **opts):
                killed.append(info.sandbox_id)
    return killed


__all__ = ["api_options", "describe", "labels", "reap", "sdk_report", "sdk_version"]
