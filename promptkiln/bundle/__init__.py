"""Air-gap bundles: one file that carries promptkiln, its sandbox image and its model.
May import image, llm, sandbox and the bottom; only cli imports it.

:mod:`~promptkiln.bundle.archive` is the file format (a tar.gz whose first member is a manifest
of every other member's size and sha256) with its streaming check; :mod:`.create` gathers the
parts on a connected machine; :mod:`.install` puts them in place on one with no way out.
"""

from __future__ import annotations

from promptkiln.bundle.archive import Manifest, Member, Part, write_bundle
from promptkiln.bundle.scan import read_manifest, scan

__all__ = ["Manifest", "Member", "Part", "read_manifest", "scan", "write_bundle"]
