"""The locked-down container and its scratch volume: every isolation setting of a Docker
sandbox in one place.

    volume   tmpfs-backed named volume at /home/user (size = limits.disk_bytes, uid 1000)
    create   PID 1 = docker-init (tini) -> `sleep infinity`, as uid 1001 (not the script's
             uid 1000: the script cannot open PID 1's memory or environment); network none,
             read-only root, cap-drop ALL, no-new-privileges, pids/memory/CPU limits,
             a small tmpfs /tmp, no host environment, labels for reaping, no container log
             (PID 1's stdout is writable by the script: a json-file log would let it fill
             the host's disk), RLIMIT_FSIZE = the scratch size (no huge sparse files)

The tmpfs volume (rather than ``--tmpfs``) is what lets the archive API see the working
directory on Docker 20.10, and its pages are charged to the container's memory cgroup.
"""

from __future__ import annotations

from typing import Any

from promptkiln.sandbox.base import HOME, SANDBOX_ENV, Limits, MiB
from promptkiln.sandbox.docker_parts import INIT_UID, UID, host_pids, no_log, ulimits

#: Size of the /tmp tmpfs. Counted against the memory limit like every tmpfs page.
TMP_BYTES = 64 * MiB
#: Inodes of the working directory's tmpfs: empty files cost no bytes, only inodes.
VOLUME_INODES = 262_144


def create_volume(client: Any, name: str, limits: Limits, labels: dict[str, str]) -> Any:
    """The scratch space mounted at ``HOME``: a tmpfs owned by the sandbox user."""
    return client.volumes.create(
        name=name,
        driver="local",
        driver_opts={
            "type": "tmpfs",
            "device": "tmpfs",
            "o": (
                f"size={limits.disk_bytes},nr_inodes={VOLUME_INODES},"
                f"uid={UID},gid={UID},mode=0700,nosuid,nodev"
            ),
        },
        labels=labels,
    )


def create_container(
    client: Any, image_id: str, name: str, limits: Limits, runtime: str, labels: dict[str, str]
) -> Any:
    """The container (created, not started), with the volume ``name`` at ``HOME``."""
    kwargs: dict[str, Any] = {}
    if runtime:
        kwargs["runtime"] = runtime
    return client.containers.create(
        image_id,
        command=["sleep", "infinity"],
        name=name,
        init=True,
        user=f"{INIT_UID}:{INIT_UID}",
        working_dir="/",
        environment=dict(SANDBOX_ENV),
        network_mode="none",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=host_pids(limits.pids, runtime),
        mem_limit=limits.memory_bytes,
        memswap_limit=limits.memory_bytes,
        nano_cpus=int(limits.cpus * 1e9),
        tmpfs={"/tmp": f"rw,nosuid,nodev,size={TMP_BYTES},mode=1777"},
        volumes={name: {"bind": HOME, "mode": "rw"}},
        labels=labels,
        hostname="sandbox",
        ipc_mode="private",
        ulimits=ulimits(limits.disk_bytes, limits.pids, runtime),
        log_config=no_log(),
        detach=True,
        **kwargs,
    )


__all__ = ["SANDBOX_ENV", "TMP_BYTES", "VOLUME_INODES", "create_container", "create_volume"]
