"""The Docker engine, seen from the backend: connecting, translating its errors, labels, reaping.

Every container and volume promptkiln makes carries :func:`run_labels`: the run, the owner
process and host, and a deadline. :func:`reap` finds leftovers of dead runs by those labels (an
owner on this host that no longer exists, or a deadline passed); ``promptkiln gc`` calls it,
and :func:`sweep_in_background` at every sandbox start.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from promptkiln import leftovers
from promptkiln.errors import EngineError, ImageError, PromptkilnError, SandboxError

if TYPE_CHECKING:
    import docker

LABEL_KIND = leftovers.LABEL_KIND
LABEL_RUN = leftovers.LABEL_RUN
LABEL_PID = leftovers.LABEL_PID
LABEL_HOST = leftovers.LABEL_HOST
LABEL_DEADLINE = leftovers.LABEL_DEADLINE

ENGINE_HINT = (
    "start the Docker engine (`sudo systemctl start docker`, or `make engine` on Debian), "
    "or point DOCKER_HOST / PROMPTKILN_DOCKER_HOST at a running one"
)


def connect(docker_host: str | None = None, *, timeout: float = 30) -> docker.DockerClient:
    """A docker client that answers ping, or an EngineError that says what to do."""
    try:
        import docker
    except ModuleNotFoundError as exc:  # pragma: no cover - docker is a core dependency
        raise EngineError(
            "the docker Python package is missing", hint="reinstall promptkiln"
        ) from exc
    try:
        client = (
            docker.DockerClient(base_url=docker_host, timeout=int(timeout))
            if docker_host
            else docker.from_env(timeout=int(timeout))
        )
        client.ping()
    except docker.errors.DockerException as exc:
        where = docker_host or os.environ.get("DOCKER_HOST") or "the default socket"
        raise EngineError(f"cannot reach the Docker engine at {where}", hint=ENGINE_HINT) from exc
    return client


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Map docker SDK and socket errors to the project's tree, at the boundary."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except PromptkilnError:
        raise
    except docker.errors.ImageNotFound as exc:
        raise ImageError(
            f"{what}: the sandbox image is missing", hint="run `promptkiln image build`"
        ) from exc
    except docker.errors.NotFound as exc:
        raise SandboxError(
            f"{what}: the sandbox disappeared ({_one_line(exc)})",
            hint="something removed the container mid-run (another `promptkiln gc`?); run again",
        ) from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"{what}: the Docker engine refused: {_one_line(exc)}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineError(
            f"{what}: lost the connection to the Docker engine ({_one_line(exc)})", hint=ENGINE_HINT
        ) from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "explanation", None) or exc).split())
    return text[:300]


def run_labels(run_id: str, deadline: float) -> dict[str, str]:
    return leftovers.owner_labels(run_id, deadline)


def reap(client: docker.DockerClient, *, everything: bool = False) -> list[str]:
    """Remove containers and volumes of dead runs, found by label; return what was removed.

    A run is dead when its owner process (on this host) no longer exists, or its deadline has
    passed. ``everything=True`` removes every promptkiln sandbox regardless.
    """
    import docker.errors

    removed: list[str] = []
    now = time.time()

    def dead(labels: dict[str, str]) -> bool:
        if everything:
            return True
        if leftovers.owner_dead(labels.get(LABEL_PID), labels.get(LABEL_HOST)):
            return True
        try:
            return now > float(labels.get(LABEL_DEADLINE, "inf"))
        except ValueError:
            return True

    with translate_errors("sweeping leftover sandboxes"):
        # Sparse: the labels come with the listing. A full listing inspects each container in
        # turn, and one that another process removes meanwhile (a run ending) ended the whole
        # sweep with NotFound, leaving a dead run's sandbox running.
        for container in client.containers.list(
            all=True, sparse=True, filters={"label": LABEL_KIND}
        ):
            if dead(container.attrs.get("Labels") or {}):
                try:
                    container.remove(force=True, v=True)
                    removed.append(_listed_name(container))
                except docker.errors.APIError:
                    pass  # gone meanwhile, or being removed: the rest are still swept
        for volume in client.volumes.list(filters={"label": LABEL_KIND}):
            labels = volume.attrs.get("Labels") or {}
            if dead(labels):
                try:
                    volume.remove(force=True)
                    removed.append(volume.name)
                except docker.errors.APIError:
                    pass  # still in use by a live container
    return removed


def _listed_name(container: Any) -> str:
    """A sparsely listed container's name (the listing gives ``Names``, each with a '/')."""
    names = container.attrs.get("Names") or [container.id]
    return str(names[0]).lstrip("/")


def remove_run(
    client: docker.DockerClient, run_id: str, container: Any, volume: Any, *, paused: bool
) -> None:
    """Force-remove a run's container and volume, and anything else labelled with the run (a
    Ctrl-C during start can leave a container the handle never saw). Never raises for an
    engine that went away or refuses: the next sweep finds the rest by label."""
    import docker.errors
    import requests.exceptions

    gone = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)
    try:
        if container is not None:
            if paused:
                # gVisor cannot kill a frozen sandbox: the engine waits 10 s and then gives
                # up on the signal. Thaw it (the outputs are already out) and kill at once.
                with contextlib.suppress(docker.errors.APIError):
                    container.unpause()
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        flt: dict[str, Any] = {"label": f"{LABEL_RUN}={run_id}"}
        for other in client.containers.list(all=True, sparse=True, filters=flt):
            with contextlib.suppress(docker.errors.NotFound):
                other.remove(force=True, v=True)
        volumes = [volume] if volume is not None else []
        volumes += [v for v in client.volumes.list(filters=flt) if v not in volumes]
        for each in volumes:
            for _ in range(20):
                try:
                    each.remove(force=True)
                    break
                except docker.errors.NotFound:
                    break
                except docker.errors.APIError:
                    time.sleep(0.1)  # "volume in use" while the container is going away
    except gone:
        pass


def sweep_in_background(docker_host: str | None) -> threading.Thread:
    """The start-up sweep: remove leftovers of runs whose owner died (kill -9), on a thread of
    its own with its own connection, so that a slow removal (a container the engine is still
    busy with) never delays this run. Abandoned if the process ends first: the next one goes on.
    """

    def sweep() -> None:
        with contextlib.suppress(Exception):
            client = connect(docker_host)
            try:
                reap(client)
            finally:
                client.close()

    thread = threading.Thread(target=sweep, name="promptkiln-sweep", daemon=True)
    thread.start()
    return thread


__all__ = [
    "ENGINE_HINT",
    "LABEL_KIND",
    "LABEL_PID",
    "LABEL_RUN",
    "connect",
    "reap",
    "remove_run",
    "run_labels",
    "sweep_in_background",
    "translate_errors",
]
