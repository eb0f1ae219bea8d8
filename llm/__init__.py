"""The code writer: prompts, generation through litellm, code extraction, the bundled local model.
May import checks, sandbox and the bottom; never making, engines, the builders, cli or server,
which sit above it (make lint checks it)."""

import os

# litellm fetches its model cost map from the internet at import time unless told otherwise; on an
# air-gapped machine that retries for seconds and prints warnings. Set before anything imports it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
