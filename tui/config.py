"""The operator's configuration: a TOML file in the platform's config directory, environment overrides, validation.

Where it is: `--config PATH`, else `$PLANDESK_CONFIG`, else `<user config dir>/plandesk/config.toml` (platformdirs;
`~/.config/plandesk/config.toml` on Linux). A missing file is not an error: the defaults apply. Every key may be
overridden from the environment as `PLANDESK_<KEY>` (pydantic-settings), e.g. `PLANDESK_BELL=false`; the environment
wins over the file. A bad file or value gives one clear line naming the key, and the console does not start on it.

    operator = "anna"            # who the journal names (else --operator, else the login name)
    slippage = "0.02"            # default cap of console closes (c, F) as a fraction; "0" = MARKET
    stale_after_s = 10           # a mark older than this is stale (previews say so)
    bell = true                  # ring the terminal bell on alerts
    theme = "textual-dark"       # any built-in Textual theme
    [keymap]                     # binding id -> key(s), comma separated (Textual keymap)
    stop = "ctrl+t"
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.decimals import Dec, NumberError, parse_number_text

__all__ = ["ConfigError", "DeskConfig", "config_path", "load_config"]

_BINDING_ID = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_KEYS = re.compile(r"[A-Za-z0-9_+-]+(,[A-Za-z0-9_+-]+)*")


class ConfigError(Exception):
    """The config file or an override is unusable; the message is one line naming the key."""


class DeskConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANDESK_", extra="forbid", validate_default=True,
                                      env_ignore_empty=True)

    operator: str | None = None
    slippage: Dec = Decimal("0.02")
    stale_after_s: float = 10.0
    bell: bool = True
    theme: str = "textual-dark"
    keymap: dict[str, str] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the file's values come in as init kwargs; the environment overrides them
        return (env_settings, init_settings)

    @field_validator("operator")
    @classmethod
    def _operator(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if not v or len(v) > 64 or any(not ch.isprintable() for ch in v):
            raise ValueError("must be 1-64 printable characters")
        return v

    @field_validator("slippage", mode="before")
    @classmethod
    def _slippage_text(cls, v: Any) -> Any:
        if isinstance(v, str):  # a typed number: the one strict grammar (no commas, no huge exponents)
            try:
                return parse_number_text(v, "slippage")
            except NumberError as exc:
                raise ValueError(str(exc).removeprefix("slippage: ")) from None
        return v

    @field_validator("slippage")
    @classmethod
    def _slippage(cls, v: Decimal) -> Decimal:
        if not (0 <= v < 1):
            raise ValueError("must be a fraction from 0 (MARKET) to below 1 (0.02 = 2 %)")
        return v

    @field_validator("stale_after_s")
    @classmethod
    def _stale(cls, v: float) -> float:
        if not (0 < v <= 3600):
            raise ValueError("must be more than 0 and at most 3600 seconds")
        return v

    @field_validator("theme")
    @classmethod
    def _theme(cls, v: str) -> str:
        from textual.theme import BUILTIN_THEMES

        if v not in BUILTIN_THEMES:
            raise ValueError(f"unknown theme {v!r} (one of: {', '.join(sorted(BUILTIN_THEMES))})")
        return v

    @field_validator("keymap")
    @classmethod
    def _keymap(cls, v: dict[str, str]) -> dict[str, str]:
        for binding_id, keys in v.items():
            if not _BINDING_ID.fullmatch(binding_id):
                raise ValueError(f"{binding_id!r} is not a binding id")
            if not isinstance(keys, str) or not _KEYS.fullmatch(keys.replace(" ", "")):
                raise ValueError(f"{binding_id}: {keys!r} is not a key list like 'ctrl+t' or 't,ctrl+t'")
        return {k: keys.replace(" ", "") for k, keys in v.items()}


def config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("PLANDESK_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("plandesk")) / "config.toml"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"config {path}: not a regular file")
    if st.st_size > 1_000_000:
        raise ConfigError(f"config {path}: larger than 1 MB; not a config file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path}: cannot read it ({exc})") from None


def _describe(exc: ValidationError, path: Path, from_file: set[str]) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    key = ".".join(loc) or "(top level)"
    top = loc[0] if loc else ""
    where = f"config {path}" if top in from_file else f"environment PLANDESK_{top.upper()}"
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key (known: operator, slippage, stale_after_s, bell, theme, keymap)"
    msg = msg.removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {key}: {msg}{more}"


def load_config(explicit: str | Path | None = None, known_bindings: set[str] | None = None) -> DeskConfig:
    """Load and validate the config; raise ConfigError with one line naming the key."""
    path = config_path(explicit)
    if explicit and not path.exists():
        raise ConfigError(f"config {path}: no such file")
    data = _read_file(path)
    try:
        cfg = DeskConfig(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, set(data))) from None
    if known_bindings is not None:
        unknown = sorted(set(cfg.keymap) - known_bindings)
        if unknown:
            raise ConfigError(f"config {path}: keymap.{unknown[0]}: no binding has this id "
                              f"(ids: {', '.join(sorted(known_bindings))})")
    return cfg
