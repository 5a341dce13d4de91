"""Settings read once from the environment (and an optional ``.env``), validated at start.

Every setting has one environment variable; the README's configuration table lists them
all. A bad value stops start-up with a :class:`SettingsError` that names the variable.
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from dotenv import dotenv_values


class Zone(enum.StrEnum):
    """The two programs of Madoguchi; each has its own database, keys and settings."""

    ISSUANCE = "issuance"
    RESERVATION = "reservation"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


LogFormat = Literal["json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Setting(msgspec.Struct, frozen=True):
    """One documented setting: its variable, default and meaning (the README table)."""

    variable: str
    default: str
    description: str


_DEFAULT_PORTS: Final = {Zone.ISSUANCE: 8001, Zone.RESERVATION: 8002}


def _zone_settings(zone: Zone) -> tuple[Setting, ...]:
    prefix = zone.value.upper()
    return (
        Setting(
            f"{prefix}_DATABASE_URL",
            "",
            f"PostgreSQL URL of the {zone.value} database; empty starts the embedded server "
            f"under `$MADOGUCHI_VAR_DIR/pg/{zone.value}`.",
        ),
        Setting(f"{prefix}_HOST", "127.0.0.1", f"Address the {zone.value} zone listens on."),
        Setting(f"{prefix}_PORT", str(_DEFAULT_PORTS[zone]), f"Port of the {zone.value} zone."),
        Setting(
            f"{prefix}_DATABASE_POOL_SIZE",
            "10",
            f"Connections per worker in the {zone.value} zone's pool.",
        ),
    )


COMMON_SETTINGS: Final = (
    Setting(
        "MADOGUCHI_VAR_DIR",
        "var",
        "Folder for embedded databases, keys and run-time files.",
    ),
    Setting("MADOGUCHI_TIMEZONE", "Asia/Tokyo", "Time zone of the counters (IANA name)."),
    Setting("MADOGUCHI_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Setting("MADOGUCHI_LOG_FORMAT", "json", "`json` (one line per event) or `console`."),
    Setting("MADOGUCHI_DEBUG", "false", "Litestar debug mode; never true in production."),
    Setting("MADOGUCHI_DEMO_RESIDENTS", "300", "How many synthetic residents `make run` seeds."),
)


def all_settings() -> tuple[Setting, ...]:
    """Return every setting of both zones, in the order the README documents them."""
    return COMMON_SETTINGS + _zone_settings(Zone.ISSUANCE) + _zone_settings(Zone.RESERVATION)


class ZoneSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The validated settings one zone runs with."""

    zone: Zone
    database_url: str
    host: str
    port: int
    database_pool_size: int
    var_dir: Path
    timezone: str
    log_level: LogLevel
    log_format: LogFormat
    debug: bool
    demo_residents: int

    @property
    def tz(self) -> ZoneInfo:
        """The counters' time zone."""
        return ZoneInfo(self.timezone)

    @property
    def zone_dir(self) -> Path:
        """This zone's run-time folder (embedded database, keys)."""
        return self.var_dir / self.zone.value


def _environment(env_file: Path | None) -> dict[str, str]:
    """The process environment over the optional ``.env`` file (the environment wins)."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def _convert(variable: str, raw: str, target: Any) -> Any:
    try:
        return msgspec.convert(raw, target, strict=False)
    except msgspec.ValidationError as error:
        message = f"{variable}={raw!r} is not valid: {error}"
        raise SettingsError(message) from None


def _positive(variable: str, value: int, *, allow_zero: bool = False) -> int:
    if value < 0 or (value == 0 and not allow_zero):
        message = f"{variable}={value} must be a positive number"
        raise SettingsError(message)
    return value


def load_settings(
    zone: Zone, environment: Mapping[str, str] | None = None, *, env_file: Path | None = None
) -> ZoneSettings:
    """Read and validate one zone's settings; raise :class:`SettingsError` naming the variable."""
    env = dict(environment) if environment is not None else _environment(env_file)
    defaults = {setting.variable: setting.default for setting in all_settings()}

    def raw(variable: str) -> str:
        return env.get(variable, defaults[variable]).strip()

    prefix = zone.value.upper()
    database_url = raw(f"{prefix}_DATABASE_URL")
    if database_url and not database_url.startswith(("postgresql://", "postgresql+asyncpg://")):
        message = (
            f"{prefix}_DATABASE_URL must be a postgresql:// URL (or empty for the embedded "
            f"server), got {database_url.split('://')[0]!r}"
        )
        raise SettingsError(message)
    timezone = raw("MADOGUCHI_TIMEZONE")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"MADOGUCHI_TIMEZONE={timezone!r} is not a known IANA time zone"
        raise SettingsError(message) from None
    port = _convert(f"{prefix}_PORT", raw(f"{prefix}_PORT"), int)
    if not 0 < port < 65536:
        message = f"{prefix}_PORT={port} must be between 1 and 65535"
        raise SettingsError(message)
    return ZoneSettings(
        zone=zone,
        database_url=database_url,
        host=raw(f"{prefix}_HOST"),
        port=port,
        database_pool_size=_positive(
            f"{prefix}_DATABASE_POOL_SIZE",
            _convert(f"{prefix}_DATABASE_POOL_SIZE", raw(f"{prefix}_DATABASE_POOL_SIZE"), int),
        ),
        var_dir=Path(raw("MADOGUCHI_VAR_DIR")).absolute(),
        timezone=timezone,
        log_level=_convert("MADOGUCHI_LOG_LEVEL", raw("MADOGUCHI_LOG_LEVEL").upper(), LogLevel),
        log_format=_convert("MADOGUCHI_LOG_FORMAT", raw("MADOGUCHI_LOG_FORMAT"), LogFormat),
        debug=_convert("MADOGUCHI_DEBUG", raw("MADOGUCHI_DEBUG"), bool),
        demo_residents=_positive(
            "MADOGUCHI_DEMO_RESIDENTS",
            _convert("MADOGUCHI_DEMO_RESIDENTS", raw("MADOGUCHI_DEMO_RESIDENTS"), int),
            allow_zero=True,
        ),
    )


@functools.cache
def get_settings(zone: Zone) -> ZoneSettings:
    """The zone's settings, read once per process from the environment and ``./.env``."""
    return load_settings(zone, env_file=Path(".env"))
