"""Backends registered by name. Built-ins register the same way a plugin would."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promptkiln.errors import BackendNotFound, BackendUnavailable

if TYPE_CHECKING:
    from promptkiln.config import Settings
    from promptkiln.sandbox.base import Sandbox

#: A factory takes the settings and the run id and returns an unstarted Sandbox.
SandboxFactory = Callable[["Settings", str], "Sandbox"]

_FACTORIES: dict[str, SandboxFactory] = {}
#: Built-ins, imported lazily: name -> (module, attribute, pip extra to install if missing).
_BUILTINS: dict[str, tuple[str, str, str | None]] = {
    "docker": ("promptkiln.sandbox.docker", "create", None),
    "e2b": ("promptkiln.sandbox.e2b", "create", "e2b"),
}


def register_backend(name: str, factory: SandboxFactory) -> None:
    """Register a backend factory under ``name`` (replacing any earlier one)."""
    _FACTORIES[name] = factory


def available_backends() -> list[str]:
    return sorted(set(_FACTORIES) | set(_BUILTINS))


def _load(name: str) -> SandboxFactory:
    if name in _FACTORIES:
        return _FACTORIES[name]
    if name not in _BUILTINS:
        raise BackendNotFound(name, available_backends())
    module_name, attr, extra = _BUILTINS[name]
    try:
        module: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        hint = f"pip install 'promptkiln[{extra}]'" if extra else "reinstall promptkiln"
        raise BackendUnavailable(
            f"the {name} backend needs a package that is not installed ({exc.name})", hint=hint
        ) from exc
    factory: SandboxFactory = getattr(module, attr)
    _FACTORIES[name] = factory
    return factory


def create_sandbox(name: str, settings: Settings, run_id: str) -> Sandbox:
    """Return an unstarted sandbox of backend ``name``."""
    return _load(name)(settings, run_id)
