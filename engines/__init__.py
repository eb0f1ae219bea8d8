"""Engines: the vendor engines (claude, openai, gemini) next to the local one, and the routing.
May import sandbox, llm, records, checks and the bottom (config, errors, plan); must not be
imported by sandbox, llm, records or checks. The loop that runs an engine is in making/.

``local`` is the pipeline of :mod:`promptkiln.making` (litellm + extractor + our sandbox), the
default and the only engine that keeps data on the machine. ``claude``, ``openai`` and ``gemini``
run the vendor's own code execution in the vendor's cloud; their files come back as raw
:class:`~promptkiln.engines.base.VendorFile` entries and pass the same collection, validation,
atomic delivery and run records as the local ones (:mod:`promptkiln.making.vendor`, which
:func:`promptkiln.making.make.make` dispatches to when the settings name a vendor engine or
``auto``). Routing: :func:`promptkiln.engines.routing.route`; opening an engine:
:mod:`promptkiln.engines.run`; their settings: :mod:`promptkiln.engine_settings`.
"""
