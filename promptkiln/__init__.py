"""promptkiln: prompts in, real files out, on your own machines.

>>> from promptkiln import make
>>> result = make("Bar chart of quarterly revenue", formats=["png"], out=Path("out"))
>>> [a.name for a in result.files]
['revenue.png']
"""

from __future__ import annotations

from promptkiln.client import Client
from promptkiln.config import Settings, load_settings
from promptkiln.errors import PromptkilnError
from promptkiln.limits import Limits
from promptkiln.making.attempt import MakeResult
from promptkiln.making.make import make
from promptkiln.making.pipeline import SandboxRun, run_in_sandbox
from promptkiln.sandbox.base import Artifact, InputFile, Rejection, RunResult
from promptkiln.version import __version__

__all__ = [
    "Artifact",
    "Client",
    "InputFile",
    "Limits",
    "MakeResult",
    "PromptkilnError",
    "Rejection",
    "RunResult",
    "SandboxRun",
    "Settings",
    "__version__",
    "load_settings",
    "make",
    "run_in_sandbox",
]
