"""``python -m promptkiln.cli``: the same as the ``promptkiln`` command."""

from __future__ import annotations

from promptkiln.cli.main import main

main()
