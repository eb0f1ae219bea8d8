"""The served E2B sandbox's watchdog (promptkiln.server.e2b.box): it ends the sandbox at its
deadline and never before, whatever state the deadline file is in; through the real ``e2b`` SDK
against the local fake E2B (tests/e2b_server).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

pytestmark = [pytest.mark.e2b, pytest.mark.docker]


def test_a_torn_deadline_file_keeps_the_deadline_it_had(e2b_env: Any) -> None:
    """A save killed between truncating the deadline file and writing it (or a read between the
    two) used to end the sandbox at once: the watchdog took the empty read as the end."""
    import e2b

    sbx = e2b.Sandbox.create(template="base", timeout=120)
    try:
        box = e2b_env.record(sbx.sandbox_id).box
        for torn in (": > /run/pk/deadline", "printf 'x\\n' > /run/pk/deadline",
                     "rm /run/pk/deadline"):  # fmt: skip
            code, out = box.exec_simple(["sh", "-c", torn], user="root")
            assert code == 0, out
            time.sleep(2.5)  # the watchdog reads the file every second
            assert sbx.is_running(), torn
            assert sbx.commands.run("echo alive").stdout.strip() == "alive"
        sbx.set_timeout(60)  # a save writes the file again, aside and renamed over it
        code, out = box.exec_simple(["cat", "/run/pk/deadline"], user="root")
        assert code == 0 and time.time() + 50 < int(out) <= time.time() + 62, out
        _, listing = box.exec_simple(["ls", "/run/pk"], user="root")
        assert b".new" not in listing, listing
        # ... and a deadline that has passed still ends it (the watchdog, not the server's timer)
        code, out = box.exec_simple(["sh", "-c", "echo 1 > /run/pk/deadline"], user="root")
        assert code == 0, out
        deadline = time.monotonic() + 15
        while box.running() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not box.running()
        assert not sbx.is_running()  # envd's health check answers 502, as E2B's edge does
    finally:
        sbx.kill()
