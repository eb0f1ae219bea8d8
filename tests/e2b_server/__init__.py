"""A protocol-faithful local E2B for tests: the real ``e2b`` SDK talks to it over loopback.

Like moto for AWS, but the server is the product's own (``promptkiln.server.e2b``, which
``promptkiln serve`` mounts): control plane, envd and code interpreter on one HTTP/1.1 port,
every sandbox a real locked-down Docker container. This package adds one fixed key, a threaded
HTTP server (wsgi.py) and test hooks (faults, a request log, a capacity).
"""

from .server import DEFAULT_API_KEY, FakeE2B, reap

__all__ = ["DEFAULT_API_KEY", "FakeE2B", "reap"]
