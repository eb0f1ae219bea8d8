"""``python -m promptkiln.image``: build the sandbox image (``make image``)."""

from __future__ import annotations

import sys

from promptkiln.image.build import main

sys.exit(main())
