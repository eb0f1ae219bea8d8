"""``--engine auto``: pick an engine per request from the ``[engines.routing]`` table.

Keys of the table are output formats (``pdf``), ``large_data`` (inputs of at least
``[engines] large_data_bytes`` in all) and ``default``. The first match wins, in this order:
large data, then each requested format in turn, then ``default``. Whatever the table says, the
answer is ``local`` when ``offline = true`` or when the chosen vendor cannot be used (no key, or
its SDK is not installed), and the reason says so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass

from promptkiln.engine_settings import KEY_VARIABLES, VENDORS, EngineSettings

#: The SDK each vendor engine imports, and the extra that installs it.
SDKS = {"claude": "anthropic", "openai": "openai", "gemini": "google.genai"}
EXTRAS = {"claude": "anthropic", "openai": "openai", "gemini": "gemini"}


@dataclass(frozen=True)
class Usability:
    engine: str
    key: bool
    sdk: bool

    @property
    def usable(self) -> bool:
        return self.key and self.sdk

    @property
    def why_not(self) -> str:
        if not self.sdk:
            return f"SDK not installed (pip install 'promptkiln[{EXTRAS[self.engine]}]')"
        if not self.key:
            return f"no key ({' or '.join(KEY_VARIABLES[self.engine])})"
        return ""


def _sdk_installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def usability(engines: EngineSettings, name: str) -> Usability:
    if name not in VENDORS:
        return Usability(name, True, True)
    return Usability(name, engines.api_key(name) is not None, _sdk_installed(SDKS[name]))


@dataclass(frozen=True)
class Route:
    engine: str
    reason: str


def route(
    requested: str,
    engines: EngineSettings,
    *,
    offline: bool,
    formats: Sequence[str] = (),
    input_bytes: int = 0,
) -> Route:
    """The engine a request runs on, and why (shown to the user and kept in the run record)."""
    if requested == "local":
        return Route("local", "the default engine: nothing leaves this machine")
    if offline:
        return Route("local", "offline = true: nothing is sent to a vendor")
    if requested != "auto":
        return Route(requested, f"--engine {requested} was asked for")
    table = engines.routing
    choice, why = table.get("default", "local"), "the routing table's default"
    formats = [f.lower().lstrip(".") for f in formats]
    if input_bytes >= engines.large_data_bytes and "large_data" in table:
        choice = table["large_data"]
        why = f"large data ({input_bytes:,} bytes of inputs) routes to {choice}"
    else:
        for fmt in formats:
            if fmt in table:
                choice, why = table[fmt], f"{fmt.upper()} routes to {table[fmt]}"
                break
    if choice in VENDORS:
        state = usability(engines, choice)
        if not state.usable:
            return Route("local", f"{why}, but {choice} is not usable: {state.why_not}")
    return Route(choice, why)
