"""promptkiln.server: the HTTP API over the one pipeline. May import making, engines and every
room below them; only cli imports it (``promptkiln serve``); it never imports cli.

``create_app(settings, options)`` returns a FastAPI app (see :mod:`promptkiln.server.app` for
where to add routers, mounts and static files); ``promptkiln serve`` runs it under uvicorn.
Requests are authorised by hashed API keys scoped to a tenant, long work is a job in a queue
served by a bounded pool of worker threads, and workers call the same functions the CLI calls.
"""

from __future__ import annotations
