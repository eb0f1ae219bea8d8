"""promptkiln.server.e2b: ``promptkiln serve`` speaks the E2B protocol.

An unchanged ``e2b`` / ``e2b-code-interpreter`` program pointed at the server (``E2B_API_URL``
and ``E2B_SANDBOX_URL`` both set to its base URL, ``E2B_API_KEY`` a promptkiln key) gets its
sandboxes from local, locked-down Docker containers:

    service.py      wiring: the fleet over the server's settings, keys as E2B keys, the lifespan
    asgi.py         picks the E2B requests out of the ASGI app; runs the WSGI router for them
    router.py       control plane vs. a sandbox's envd / code-interpreter port, access tokens
    control.py      the control plane's REST API (create, list, connect, timeout, kill)
    envd.py         envd's Connect services and ``/files``; envd_process.py its processes
                    (Start, Connect, stdin), envd_watch.py its directory watches
    kernel.py       the code interpreter's ``/execute`` and ``/contexts`` (kernel_program.py)
    fleet.py        the live sandboxes: quotas, timeouts, adoption after a restart
    pool.py         warm sandboxes per template
    box.py          one sandbox's container; boxfiles.py its filesystem
    runs.py         each process or cell as a run record
    reap.py         ``promptkiln gc``: abandoned sandboxes
"""

from __future__ import annotations
