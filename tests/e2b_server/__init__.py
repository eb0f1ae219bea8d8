"""A protocol-faithful local E2B for tests: the real ``e2b`` SDK talks to it over loopback.

Like moto for AWS: the control plane and envd are served on one HTTP/1.1 port, and every sandbox
is a real locked-down Docker container, so the backend runs real scripts under the real contract.
"""

from .server import DEFAULT_API_KEY, FakeE2B, SandboxRecord, reap

__all__ = ["DEFAULT_API_KEY", "FakeE2B", "SandboxRecord", "reap"]
