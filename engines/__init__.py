"""Engines: what turns a prompt into output entries.

``local`` is the pipeline of :mod:`promptkiln.pipeline` (litellm + extractor + our sandbox), the
default and the only engine that keeps data on the machine. ``claude``, ``openai`` and ``gemini``
run the vendor's own code execution in the vendor's cloud; their files come back as raw
:class:`~promptkiln.engines.base.VendorFile` entries and pass the same collection, validation,
atomic delivery and run records as the local ones (:mod:`promptkiln.engines.run`).

The entry point for the CLI, the Python API and the server is
:func:`promptkiln.engines.run.make_with_engine` (``pipeline.make`` dispatches to it when the
settings name a vendor engine or ``auto``). Routing: :func:`promptkiln.engines.routing.route`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_with_engine", "route"]


def __getattr__(name: str) -> Any:  # lazy: promptkiln.config imports engines.settings
    if name == "make_with_engine":
        from promptkiln.engines.run import make_with_engine

        return make_with_engine
    if name == "route":
        from promptkiln.engines.routing import route

        return route
    raise AttributeError(name)
