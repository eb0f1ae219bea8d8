"""Reading litellm's stream: its chunks as (piece, finish reason, usage), and closing it.

Duck-typed on purpose: litellm's chunk classes change between versions, and a provider may
leave any of these attributes out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def iterate(stream: Any) -> Iterator[Any]:
    yield from stream


def close_stream(stream: Any) -> None:
    """Stop reading a stream we abandon (too large), so the connection is not left open."""
    for target in (stream, getattr(stream, "completion_stream", None)):
        close = getattr(target, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):  # closing is best effort
                close()


def read_chunk(chunk: Any) -> tuple[str, str | None, tuple[int | None, int | None]]:
    """(content piece, finish_reason, (prompt_tokens, completion_tokens)) of one stream chunk."""
    piece = ""
    finish: str | None = None
    choices = getattr(chunk, "choices", None) or []
    if choices:
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        content = getattr(delta, "content", None) if delta is not None else None
        if isinstance(content, str):
            piece = content
        reason = getattr(choice, "finish_reason", None)
        finish = str(reason) if reason else None
    usage = getattr(chunk, "usage", None)
    prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
    completion = getattr(usage, "completion_tokens", None) if usage is not None else None
    return (
        piece,
        finish,
        (
            prompt if isinstance(prompt, int) else None,
            completion if isinstance(completion, int) else None,
        ),
    )
