"""The locked-down container and its scratch volume: every isolation setting of a Docker
sandbox in one place.

    volume   tmpfs-backed named volume at /home/user (size = limits.disk_bytes, uid 1000)
    create   PID 1 = docker-init (tini) -> `sleep infinity`, as uid 1001 (not the script's
             uid 1000: the script cannot open PID 1's memory or environment); network none,
             read-only root, cap-drop ALL, no-new-privileges, pids/memory/CPU limits,
             a small tmpfs /tmp, no host environment, labels for reaping, no container log
             (PID 1's stdout is writable by the script: a json-file log would let it fill
             the host's disk), RLIMIT_FSIZE = the scratch size (no huge sparse files)
    kernel   /sys/fs/cgroup read-only (runc leaves its tmpfs writable on cgroup v1: added to
             the spec's readonlyPaths); under gVisor, which ignores readonlyPaths and puts a
             FUSE and a TUN device in every /dev, empty read-only tmpfs mounts over /dev/fuse,
             /dev/net and /proc/sys keep them out (see :func:`kernel_surfaces`)

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
    from docker.models.containers import _create_container_args  # type: ignore[attr-defined]

    args = _create_container_args(
        dict(
            image=image_id,
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
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={TMP_BYTES},mode=1777", **hidden_paths(runtime)},
            volumes={name: {"bind": HOME, "mode": "rw"}},
            labels=labels,
            hostname="sandbox",
            ipc_mode="private",
            ulimits=ulimits(limits.disk_bytes, limits.pids, runtime),
            log_config=no_log(),
            detach=True,
            version=client.api._version,
            **kwargs,
        )
    )
    # docker-py has no argument for it; the Engine API takes it (>= 1.31) and replaces the
    # default list with it, so the defaults are repeated
    args["host_config"]["ReadonlyPaths"] = list(READONLY_PATHS)
    made = client.api.create_container(**args)
    return client.containers.get(made["Id"])


#: Docker's default read-only paths, plus the cgroup tree.
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/sys/fs/cgroup",
)
#: Under gVisor: paths covered by an empty read-only tmpfs. gVisor's sentry creates /dev/fuse
#: and /dev/net/tun in every container's /dev and mounts /proc/sys writable (it does not
#: implement the spec's readonlyPaths); a tmpfs over each hides them from the script.
GVISOR_HIDDEN = ("/dev/fuse", "/dev/net", "/proc/sys")


def hidden_paths(runtime: str) -> dict[str, str]:
    """The extra tmpfs mounts of ``runtime`` (``--tmpfs`` entries: not host mounts)."""
    if runtime != "runsc":
        return {}
    return {path: "ro,nosuid,nodev,noexec,size=4k,mode=0555" for path in GVISOR_HIDDEN}


__all__ = [
    "GVISOR_HIDDEN",
    "READONLY_PATHS",
    "SANDBOX_ENV",
    "TMP_BYTES",
    "VOLUME_INODES",
    "create_container",
    "create_volume",
    "hidden_paths",
]
