"""Settings of the vendor engines: keys, base URLs, models, and the ``auto`` routing table.

In the config file::

    engine = "auto"          # local (default) | claude | openai | gemini | auto
    offline = false          # true: never send anything to a vendor, whatever else is set
    [engines.claude]
    base_url = "https://gateway.internal/anthropic"
    [engines.routing]
    pdf = "claude"
    csv = "openai"

Keys fall back to the vendors' own variables (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``,
``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``), base URLs to ``ANTHROPIC_BASE_URL``,
``OPENAI_BASE_URL`` and ``PROMPTKILN_GEMINI_BASE_URL``.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

#: The engines there are. ``local`` is today's pipeline and never sends data out.
ENGINES = ("local", "claude", "openai", "gemini")
VENDORS = ("claude", "openai", "gemini")

#: Where the key and base URL come from when the config file does not say.
KEY_VARIABLES = {
    "claude": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
BASE_URL_VARIABLES = {
    "claude": "ANTHROPIC_BASE_URL",
    "openai": "OPENAI_BASE_URL",
    "gemini": "PROMPTKILN_GEMINI_BASE_URL",
}
DEFAULT_MODELS = {
    "claude": "claude-sonnet-5-5",
    "openai": "gpt-5.5",
    "gemini": "gemini-2.5-flash",
}

#: The default routing table: output format -> engine. ``large_data`` and ``default`` are keys too.
DEFAULT_ROUTING: dict[str, str] = {
    "pdf": "claude",
    "docx": "claude",
    "pptx": "claude",
    "large_data": "openai",
    "png": "gemini",
    "jpg": "gemini",
    "svg": "gemini",
    "default": "local",
}


class VendorSettings(BaseModel):
    """One vendor: its key (else the vendor's variable), base URL, and model."""

    api_key: str | None = Field(None, repr=False)
    base_url: str | None = None
    model: str | None = None
    #: Seconds per HTTP request to the vendor.
    request_timeout: float = Field(600.0, gt=0)
    #: Times to continue a ``pause_turn`` (Claude) before giving up.
    max_continuations: int = Field(8, ge=0, le=100)


class EngineSettings(BaseModel):
    """``[engines]``: one table per vendor, the routing table, and what counts as large data."""

    claude: VendorSettings = Field(default_factory=VendorSettings)
    openai: VendorSettings = Field(default_factory=VendorSettings)
    gemini: VendorSettings = Field(default_factory=VendorSettings)
    routing: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ROUTING))
    #: Inputs at least this large in total (bytes) make a request "large data".
    large_data_bytes: int = Field(20 * 2**20, ge=0)
    #: Gemini's code execution limit, seconds (the vendor's is 30 s).
    gemini_time_limit: float = Field(30.0, gt=0)

    def vendor(self, name: str) -> VendorSettings:
        vendor: VendorSettings = getattr(self, name)
        return vendor

    def api_key(self, name: str) -> str | None:
        """The key for ``name``: the config's, else the first of the vendor's variables set."""
        configured = self.vendor(name).api_key
        if configured:
            return configured
        for var in KEY_VARIABLES[name]:
            if os.environ.get(var):
                return os.environ[var]
        return None

    def base_url(self, name: str) -> str | None:
        return self.vendor(name).base_url or os.environ.get(BASE_URL_VARIABLES[name]) or None

    def model(self, name: str) -> str:
        return self.vendor(name).model or DEFAULT_MODELS[name]
