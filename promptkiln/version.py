"""promptkiln's version, in a module of its own so the rooms can read it without importing the
whole package (``promptkiln/__init__`` imports the pipeline and the client)."""

from __future__ import annotations

__version__ = "0.1.0"
