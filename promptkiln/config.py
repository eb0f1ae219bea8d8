"""Settings: defaults < config file (TOML) < environment (``PROMPTKILN_*``) < CLI flags.

The config file is ``$PROMPTKILN_CONFIG`` or ``<config dir>/promptkiln/config.toml``; for example::

    backend = "docker"
    model = "openai/my-model"
    api_base = "http://gpu-box.internal:8000/v1"
    [limits]
    memory = "2g"
    timeout = 120

Limits use units in their values: sizes take ``k``/``m``/``g`` suffixes (bytes otherwise), times are
seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from promptkiln.engine_settings import ENGINES, EngineSettings
from promptkiln.errors import ConfigError
from promptkiln.limits import GiB, KiB, Limits, MiB

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1024 * GiB}


def parse_size(value: object) -> int:
    """``"512m"`` -> 536870912. Integers are bytes."""
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a string like '512m'")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size; use bytes or a suffix: 512k, 256m, 2g")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


Size = Annotated[int, BeforeValidator(parse_size)]


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "promptkiln"


def default_home() -> Path:
    """Where promptkiln keeps its data: ``$PROMPTKILN_HOME`` or the XDG data directory."""
    if os.environ.get("PROMPTKILN_HOME"):
        return Path(os.environ["PROMPTKILN_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "promptkiln"


def default_cache() -> Path:
    if os.environ.get("PROMPTKILN_CACHE"):
        return Path(os.environ["PROMPTKILN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "promptkiln"


def config_file() -> Path:
    return Path(os.environ.get("PROMPTKILN_CONFIG") or _config_dir() / "config.toml")


class LimitSettings(BaseModel):
    """Per-run limits. Defaults are the secure ones."""

    cpus: float = Field(2.0, gt=0, le=64)
    memory: Size = Field(1 * GiB, ge=64 * MiB)
    pids: int = Field(256, ge=16, le=32768)
    timeout: float = Field(300.0, gt=0, le=24 * 3600, description="seconds")
    disk: Size = Field(512 * MiB, ge=16 * MiB)
    output_bytes: Size = Field(256 * MiB, ge=1)
    output_file_bytes: Size = Field(128 * MiB, ge=1)
    output_files: int = Field(200, ge=1, le=100_000)
    log_bytes: Size = Field(64 * KiB, ge=1 * KiB)

    def to_limits(self) -> Limits:
        return Limits(
            cpus=self.cpus,
            memory_bytes=self.memory,
            pids=self.pids,
            timeout_s=self.timeout,
            disk_bytes=self.disk,
            output_bytes=self.output_bytes,
            output_file_bytes=self.output_file_bytes,
            output_files=self.output_files,
            log_bytes=self.log_bytes,
        )


class PoolSettings(BaseModel):
    """The warm pool of Docker sandboxes (promptkiln.sandbox.pool). ``size = 0`` turns it off:
    every job then starts a cold sandbox as it needs it."""

    size: int = Field(2, ge=0, le=64)
    #: Seconds a warm sandbox may wait for a job before it is replaced.
    idle: float = Field(300.0, gt=0, le=24 * 3600)


class E2BSettings(BaseModel):
    """E2B connection settings. E2B's own variables (E2B_API_KEY, E2B_DOMAIN, E2B_API_URL,
    E2B_SANDBOX_URL) are honoured by the SDK when these are unset."""

    api_key: str | None = None
    domain: str | None = None
    api_url: str | None = None
    sandbox_url: str | None = None
    #: promptkiln's own template (the document stack, built with `promptkiln image
    #: e2b-template`) is the default; E2B's stock "code-interpreter-v1" works without a build.
    template: str = "promptkiln-docs"
    #: Kernel mode: run the script in the template's warm Jupyter kernel with
    #: e2b-code-interpreter's run_code (the template must run E2B's code-interpreter server,
    #: as code-interpreter-v1 does) instead of a `python3` command through envd.
    kernel: bool = False
    #: Seconds the sandbox may live at most; always set so a lost sandbox does not run forever.
    sandbox_timeout: int = Field(600, ge=30, le=24 * 3600)
    allow_internet: bool = False
    #: Seconds a server replica treats the cluster as full after it answered "at capacity":
    #: its workers take no job and new submissions over its bound get 503 `capacity`.
    capacity_cooldown: float = Field(15.0, ge=0.1, le=3600)
    #: Times a job whose sandbox met "at capacity" is put back in the queue before it fails.
    capacity_requeues: int = Field(3, ge=0, le=100)


#: The highest answer cap used when ``max_tokens`` is not set.
MAX_TOKENS_CEILING = 4096


class Settings(BaseSettings):
    """Everything configurable. Construct with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="PROMPTKILN_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    backend: str = "docker"
    image: str = "promptkiln-sandbox:latest"
    #: Container runtime: "" for the engine's default (runc), or "runsc" for gVisor.
    runtime: str = ""
    docker_host: str | None = None
    limits: LimitSettings = Field(default_factory=LimitSettings)
    e2b: E2BSettings = Field(default_factory=E2BSettings)
    #: Who turns the prompt into files: local (default, nothing leaves the machine), claude,
    #: openai, gemini, or auto (the [engines.routing] table). See promptkiln.engines.
    engine: str = "local"
    #: True: never send anything to a vendor; every engine choice falls back to local.
    offline: bool = False
    engines: EngineSettings = Field(default_factory=EngineSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)

    #: litellm model string; empty means the bundled local model.
    model: str = ""
    api_base: str | None = None
    #: API key for the model provider; usually left unset so litellm reads the provider's own
    #: variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...). Never passed into a sandbox.
    api_key: str | None = Field(None, repr=False)
    temperature: float = Field(0.0, ge=0, le=2)
    #: The answer's token cap. Unset: sized to the request (a chart ~1.5k, a long report
    #: ~3k), never over :data:`MAX_TOKENS_CEILING`; set it to pin one cap for every request.
    max_tokens: int | None = Field(None, ge=64)
    request_timeout: float = Field(600.0, gt=0)
    attempts: int = Field(3, ge=1, le=10)
    #: Seconds one request may spend on its attempts (``--time-budget``): a repair starts only
    #: when it can be expected to end in time (judged by the slowest attempt so far). The first
    #: attempt always runs. 0: no budget, every attempt runs.
    time_budget: float = Field(180.0, ge=0, le=24 * 3600)
    #: Scripts sampled for the first attempt (``--candidates``); the first that succeeds is
    #: kept, or the one that got furthest is repaired. 1: one script, no sampling.
    candidates: int = Field(1, ge=1, le=8)
    #: When every attempt fails but one wrote valid files before its script crashed, deliver
    #: those files with a warning (``--keep-valid-on-crash``). Off: nothing is delivered.
    keep_valid_on_crash: bool = False
    #: Deliver files that fail a requirement or a content check anyway, with warnings and exit
    #: status 0 (``--accept-unmet``). Off: they are kept in the run record and the session,
    #: not written to ``--out``, and the command exits with :data:`~promptkiln.errors.EXIT_UNMET`.
    accept_unmet: bool = False
    #: Also ask the model, in one short call, which exact words the files must hold (names,
    #: titles, dates the prompt states that no rule reads) (``--model-requirements``).
    model_requirements: bool = False
    #: Before the script, the model writes a plan (files, charts, tables, columns, aggregation)
    #: that is checked against the inputs' profile and then guides the script (``--no-plan``).
    plan: bool = True
    templates_dir: Path | None = None
    local_model: Path | None = None

    home: Path = Field(default_factory=default_home)
    cache: Path = Field(default_factory=default_cache)
    #: Keep prompts and outputs in run records ("full"), or only their hashes ("hashes").
    record_content: str = "full"
    #: Where sessions, run records, keys and jobs live: empty for the embedded SQLite database
    #: under ``home``, or ``postgresql://user:password@host:port/db`` for a shared PostgreSQL.
    store_url: str | None = Field(None, repr=False)
    #: Server: seconds a replica's claim on a running job lasts without a heartbeat; a replica
    #: that dies leaves its job to be marked interrupted by another one after this long.
    job_lease: float = Field(30.0, ge=1, le=3600)

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("store_url must start with postgresql:// (or be empty for SQLite)")
        return value

    @field_validator("record_content")
    @classmethod
    def _check_record_content(cls, value: str) -> str:
        if value not in ("full", "hashes"):
            raise ValueError("record_content must be 'full' or 'hashes'")
        return value

    @field_validator("engine")
    @classmethod
    def _check_engine(cls, value: str) -> str:
        if value not in (*ENGINES, "auto"):
            raise ValueError(f"engine must be one of {', '.join((*ENGINES, 'auto'))}")
        return value

    @field_validator("runtime")
    @classmethod
    def _check_runtime(cls, value: str) -> str:
        if value in ("runc", "default"):
            return ""
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)


def _prune(overrides: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            nested = _prune(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def load_settings(**overrides: Any) -> Settings:
    """Load settings; ``overrides`` (CLI flags) win. ``None`` values are ignored.

    Nested overrides merge with lower sources: ``limits={"timeout": 60}`` keeps the other limits.
    """
    try:
        base = Settings()
        pruned = _prune(overrides)
        if not pruned:
            return base
        data = base.model_dump()
        for key, value in pruned.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key].update(value)
            else:
                data[key] = value
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid setting {where}: {first['msg']}",
            hint=f"check the flag, the PROMPTKILN_ variable, or {config_file()}",
        ) from exc
    except (OSError, ValueError) as exc:  # a broken TOML file
        raise ConfigError(
            f"cannot read the config file {config_file()}: {exc}", hint="fix or remove the file"
        ) from exc
