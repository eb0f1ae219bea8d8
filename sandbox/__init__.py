"""Sandboxes: the Sandbox protocol, its types, the backends, safe collection of their outputs.
May import only the bottom (config, errors, limits, leftovers); every room above may import it,
it imports none of them (make lint checks it).

Backends are registered by name. The built-in ones (``docker``, ``e2b``) go through the same
registration path a third-party backend uses, and their SDKs are imported only when asked for.
"""

from __future__ import annotations

from promptkiln.sandbox.base import (
    Artifact,
    InputFile,
    Limits,
    OutputEntry,
    Rejection,
    RunResult,
    Sandbox,
    SandboxInfo,
    Termination,
)
from promptkiln.sandbox.registry import available_backends, create_sandbox, register_backend

__all__ = [
    "Artifact",
    "InputFile",
    "Limits",
    "OutputEntry",
    "Rejection",
    "RunResult",
    "Sandbox",
    "SandboxInfo",
    "Termination",
    "available_backends",
    "create_sandbox",
    "register_backend",
]
