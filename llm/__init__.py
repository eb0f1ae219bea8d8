"""The code writer: prompts, generation through litellm, code extraction, the bundled local model."""

import os

# litellm fetches its model cost map from the internet at import time unless told otherwise; on an
# air-gapped machine that retries for seconds and prints warnings. Set before anything imports it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
