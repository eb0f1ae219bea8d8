"""promptkiln: prompts in, real files out, on your own machines."""

from __future__ import annotations

from promptkiln.errors import PromptkilnError

__version__ = "0.1.0"

__all__ = ["PromptkilnError", "__version__"]
