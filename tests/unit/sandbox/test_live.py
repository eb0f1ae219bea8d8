"""The live-output throttle: pieces of output become a bounded number of events, text whole."""

from __future__ import annotations

import threading
import time

from promptkiln.sandbox.live import Throttle, takes_sink


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, text: str) -> None:
        with self.lock:
            self.events.append((time.monotonic(), stream, text))

    def text(self, stream: str) -> str:
        return "".join(t for _, s, t in self.events if s == stream)


def test_a_burst_is_batched_and_nothing_is_lost() -> None:
    seen = Listener()
    throttle = Throttle(seen, interval_s=0.2)
    for i in range(500):
        throttle("stdout", f"line {i}\n".encode())
    throttle("stderr", b"warning\n")
    throttle.close()
    assert seen.text("stdout") == "".join(f"line {i}\n" for i in range(500))
    assert seen.text("stderr") == "warning\n"
    assert len(seen.events) <= 4  # one at once, the rest at close: not 501


def test_a_lone_line_is_flushed_by_the_timer_while_the_run_goes_on() -> None:
    seen = Listener()
    throttle = Throttle(seen, interval_s=0.2)
    throttle("stdout", b"first\n")  # emitted at once: nothing was sent yet
    throttle("stdout", b"second\n")  # within the interval: waits for the timer
    time.sleep(0.6)
    assert [t for _, _, t in seen.events] == ["first\n", "second\n"]  # before close()
    throttle.close()
    assert len(seen.events) == 2


def test_split_utf8_is_joined_and_events_are_capped_in_size() -> None:
    seen = Listener()
    throttle = Throttle(seen, interval_s=10, max_event_bytes=64)
    data = ("é" * 100).encode()
    throttle("stdout", data[:1])  # half a character
    throttle("stdout", data[1:])
    throttle.close()
    assert seen.text("stdout") == "é" * 100
    assert all(len(t.encode()) <= 64 for _, _, t in seen.events)


def test_a_failing_listener_ends_live_output_not_the_run() -> None:
    calls = []

    def broken(stream: str, text: str) -> None:
        calls.append(text)
        raise OSError("the terminal went away")

    throttle = Throttle(broken, interval_s=0)
    throttle("stdout", b"a")
    throttle("stdout", b"b")  # no second call: live output stopped
    throttle.close()
    assert calls == ["a"] and isinstance(throttle.error, OSError)


def test_a_backend_without_the_keyword_runs_without_live_output() -> None:
    class Old:
        def run(self, argv: list[str], *, timeout_s: float) -> None: ...

    class New:
        def run(self, argv: list[str], *, timeout_s: float, on_output: object = None) -> None: ...

    assert not takes_sink(Old()) and takes_sink(New())
