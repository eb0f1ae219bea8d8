"""What a model server says about one answer's speed and its prompt cache.

llama.cpp's server (the bundled model) puts a ``timings`` object in its stream chunks when the
request asks for ``timings_per_token``: ``cache_n`` prompt tokens served from its KV cache,
``prompt_n`` evaluated, ``prompt_per_second``, ``predicted_n`` and ``predicted_per_second``.
OpenAI-style servers report ``usage.prompt_tokens_details.cached_tokens`` in the last chunk
instead. :class:`Timings` keeps whichever came, so the progress line can say how much of the
prompt was reused and the time budget can price the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Timings:
    """One answer's prompt and generation figures, as far as the server reported them."""

    cached: int | None = None  #: prompt tokens served from the server's cache
    evaluated: int | None = None  #: prompt tokens the server had to evaluate
    prompt_per_second: float | None = None  #: prompt evaluation speed, tokens/s
    predicted: int | None = None  #: tokens generated
    predicted_per_second: float | None = None  #: generation speed, tokens/s
    first_token_s: float | None = None  #: seconds from the request to the first answer piece

    @property
    def prompt(self) -> int | None:
        """All prompt tokens (cached + evaluated), when both are known."""
        if self.cached is None or self.evaluated is None:
            return None
        return self.cached + self.evaluated

    @property
    def reused(self) -> float | None:
        """The fraction of the prompt's tokens served from the cache."""
        total = self.prompt
        return None if not total or self.cached is None else self.cached / total

    def merge(self, chunk: Any) -> Timings:
        """These timings updated from one stream chunk (its ``timings`` or ``usage``)."""
        found = _llama_timings(getattr(chunk, "timings", None))
        usage = getattr(chunk, "usage", None)
        details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
        cached = getattr(details, "cached_tokens", None)
        if isinstance(cached, int) and self.cached is None and "cached" not in found:
            prompt = getattr(usage, "prompt_tokens", None)
            found["cached"] = cached
            if isinstance(prompt, int) and self.evaluated is None:
                found["evaluated"] = max(0, prompt - cached)
        return replace(self, **found) if found else self

    def describe(self) -> str:
        """``"1,240 prompt tokens, 1,180 reused from cache"`` (what is known), or ""."""
        parts = []
        if self.prompt is not None and self.cached is not None:
            parts.append(f"{self.prompt:,} prompt tokens, {self.cached:,} reused from cache")
        if self.prompt_per_second and self.evaluated:
            parts.append(f"prompt {self.prompt_per_second:.0f} tokens/s")
        if self.predicted_per_second and self.predicted:
            parts.append(f"{self.predicted} generated at {self.predicted_per_second:.1f} tokens/s")
        return "; ".join(parts)


def _llama_timings(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    names = {
        "cache_n": "cached", "prompt_n": "evaluated", "prompt_per_second": "prompt_per_second",
        "predicted_n": "predicted", "predicted_per_second": "predicted_per_second",
    }  # fmt: skip
    out: dict[str, Any] = {}
    for key, field in names.items():
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            continue
        out[field] = int(value) if field in ("cached", "evaluated", "predicted") else float(value)
    return out
