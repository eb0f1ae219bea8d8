"""What matplotlib drew in the sandbox, read back from the image's chart-facts hook.

The hook (``images/promptkiln_chartfacts.py``) records, on every ``savefig``, each axes' title,
labels, legend, bars, lines, wedges and scatter points into a sidecar file outside the working
directory (:data:`~promptkiln.sandbox.base.CHART_FACTS_PATH`). :func:`read` fetches it through
the backend's ``read_sidecar`` after the run; it is never delivered to the user. The judge's
content checks (:mod:`promptkiln.checks.content_charts`) and the run record use it.

Trust: the file is written by the script's own process, so it tells what a *confused* model
drew, not what a hostile one claims; a wrong verdict on its own files is all a forger gains.
Isolation is the boundary. Everything read is bounded and shape-checked.
"""

from __future__ import annotations

import json
from typing import Any

from promptkiln.sandbox.base import CHART_FACTS_PATH, ReadsSidecar, Sandbox

#: Largest sidecar read back (the hook bounds what it writes well below this).
MAX_BYTES = 4 * 2**20


def read(sandbox: Sandbox) -> list[dict[str, Any]] | None:
    """The figures saved during the run (``[{"file", "suptitle", "axes": [...]}]``), ``[]``
    when none was saved, None when the backend cannot tell (no hook in its image, no
    ``read_sidecar``)."""
    found: object = sandbox
    for _ in range(4):  # a wrapper (pool, live output, cancellable) without the method
        if isinstance(found, ReadsSidecar):
            break
        found = getattr(found, "inner", None)
    if not isinstance(found, ReadsSidecar):
        return None
    data = found.read_sidecar(CHART_FACTS_PATH, MAX_BYTES)
    if data is None:
        return []
    return parse(data)


def parse(data: bytes) -> list[dict[str, Any]]:
    """The figures of a sidecar, keeping only well-shaped entries."""
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    figures = doc.get("figures") if isinstance(doc, dict) else None
    if not isinstance(figures, list):
        return []
    out = []
    for fig in figures:
        if isinstance(fig, dict) and isinstance(fig.get("axes"), list):
            axes = [a for a in fig["axes"] if isinstance(a, dict)]
            name = fig.get("file")
            out.append(
                {
                    "file": name if isinstance(name, str) else None,
                    "suptitle": str(fig.get("suptitle") or ""),
                    "axes": axes,
                }
            )
    return out


def for_file(figures: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The figures saved as ``name`` (a path relative to the working directory); for a
    document that embeds charts (saved to a buffer or a temp file), every figure not saved
    under another delivered name is a candidate, so the caller passes the leftovers."""
    return [f for f in figures if f["file"] == name]
