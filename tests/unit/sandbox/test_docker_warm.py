"""The host side of the warm interpreter's stream: script output, the outputs marker and the
framed tar after it, fed through a real socket in Docker's multiplexed format."""

from __future__ import annotations

import socket
import struct

import pytest

from promptkiln.sandbox.base import InputFile
from promptkiln.sandbox.docker_warm import WarmExec, WarmReader, job_line

TOKEN = "ab" * 16
MARKER = b"\0promptkiln-outputs:" + TOKEN.encode() + b"\0"


def mux(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def frames(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts) + b"\0\0\0\0"


def read(chunks: list[tuple[int, bytes]], *, log_cap: int = 100, cap: int = 1000) -> WarmReader:
    ours, theirs = socket.socketpair()
    reader = WarmReader(ours, log_cap, TOKEN, cap)
    reader.start()
    for stream, data in chunks:
        theirs.sendall(mux(stream, data))
    theirs.close()
    reader.join(timeout=10)
    assert not reader.is_alive()
    return reader


def spooled(reader: WarmReader) -> bytes:
    return b"".join(reader.outputs())


def test_output_then_marker_split_across_chunks_then_frames() -> None:
    stream = b"hello " + MARKER + frames(b"tar-", b"bytes")
    cut = len(b"hello ") + 7  # the marker arrives in two pieces
    reader = read([(1, stream[:cut]), (2, b"warning"), (1, stream[cut:])])
    assert bytes(reader.out) == b"hello " and bytes(reader.err) == b"warning"
    assert reader.outputs_complete and spooled(reader) == b"tar-bytes"


def test_no_marker_is_all_output_and_nothing_complete() -> None:
    reader = read([(1, b"just " + MARKER[:-1]), (1, b"output")])
    assert bytes(reader.out) == b"just " + MARKER[:-1] + b"output"
    assert not reader.outputs_complete and reader.spool is None


def test_another_token_is_output() -> None:
    fake = b"\0promptkiln-outputs:" + b"cd" * 16 + b"\0" + frames(b"x")
    reader = read([(1, fake)])
    assert bytes(reader.out) == fake and not reader.outputs_complete


@pytest.mark.parametrize(
    "tail",
    [
        b"\0\0\0\x05abc",  # cut off inside a frame
        frames(b"x") + b"more",  # bytes after the last frame
        (2 * 1024 * 1024).to_bytes(4, "big"),  # a frame longer than any the interpreter sends
    ],
    ids=["truncated", "trailing", "huge-frame"],
)
def test_an_incomplete_stream_is_not_used(tail: bytes) -> None:
    assert not read([(1, MARKER + tail)]).outputs_complete


def test_outputs_keep_one_byte_over_the_cap_and_output_its_own_cap() -> None:
    reader = read([(1, b"o" * 150 + MARKER + frames(b"a" * 700, b"b" * 700))], cap=1000)
    assert bytes(reader.out) == b"o" * 100 and reader.dropped[0] == 50
    assert reader.outputs_complete and reader.spooled == 1400
    assert spooled(reader) == b"a" * 700 + b"b" * 301


def test_job_line_places_inputs_where_the_archive_would() -> None:
    line = job_line(
        ["/home/user/.promptkiln/main.py"],
        "/home/user/work",
        inputs=([InputFile("a.csv", b"x")], b"print(1)\n"),
        token=TOKEN,
        outputs_cap=5,
    )
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    import json

    job = json.loads(line)
    assert [p for p, _ in job["files"]] == [
        "/home/user/work/inputs/a.csv",
        "/home/user/.promptkiln/main.py",
    ]
    assert job["out"]["token"] == TOKEN and job["out"]["cap"] == 5
    assert job["out"]["dir"] == "/home/user/work" and job["out"]["skip"] == ["inputs"]


@pytest.mark.parametrize(
    ("ready", "protocol"),
    [(b"promptkiln-warm-ready 2\n", 2), (b"promptkiln-warm-ready\n", 1)],
    ids=["this-image", "older-image"],
)
def test_the_ready_line_says_what_the_interpreter_understands(ready: bytes, protocol: int) -> None:
    """An interpreter from an image built before files-in/outputs-back still works: the job
    then takes the cold path's archive copies (no token, so no marker is looked for)."""
    ours, theirs = socket.socketpair()
    theirs.sendall(mux(1, ready[:5]) + mux(1, ready[5:]))
    warm = WarmExec("exec-id", ours)
    warm._await_ready()
    assert warm.protocol == protocol
    warm.listen(100, 1000)
    assert warm.reader is not None
    marker = b"\0promptkiln-outputs:" + warm.token.encode() + b"\0"
    theirs.sendall(mux(1, b"out " + marker))
    theirs.close()
    warm.reader.join(timeout=10)
    expected = b"out " if protocol == 2 else b"out " + marker
    assert bytes(warm.reader.out) == expected
    warm.close()
