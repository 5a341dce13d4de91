"""Settings read once from the environment (and an optional ``.env``), validated at start.

Every setting has one environment variable; the README's configuration table lists them
all (``madoguchi settings`` prints it). A bad value, or values that cannot work together,
stop start-up with a :class:`SettingsError` that names the variable to set.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import os
from collections.abc import Callable, Mapping
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
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ZoneSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The validated settings one zone runs with."""

    zone: Zone
    # Zone-specific (variables prefixed ISSUANCE_ / RESERVATION_).
    database_url: str
    host: str
    port: int
    database_pool_size: int
    secret_key: str
    staff_networks: tuple[Network, ...]
    trusted_proxies: tuple[Network, ...]
    certificate_proxies: tuple[Network, ...]
    require_registered_terminal: bool
    # Shared (variables prefixed MADOGUCHI_).
    var_dir: Path
    timezone: str
    log_level: LogLevel
    log_format: LogFormat
    debug: bool
    demo_residents: int
    redis_url: str
    terminal_certificate_header: str
    password_min_length: int
    password_expiry_days: int
    password_warning_days: int
    password_history: int
    staff_lockout_threshold: int
    staff_lockout_minutes: int
    require_totp_for_administrators: bool
    session_idle_minutes: int
    session_absolute_hours: int
    dormant_account_days: int
    audit_retention_days: int
    key_folder: Path | None
    # Resident login and booking: the reservation zone only (RESERVATION_ variables).
    password_key: str = ""
    resident_session_minutes: int = 30
    login_rate_limit: int = 30
    login_alarm_failures: int = 100

    @property
    def tz(self) -> ZoneInfo:
        """The counters' time zone."""
        return ZoneInfo(self.timezone)

    @property
    def key_dir(self) -> Path:
        """Where this zone's signing and encryption keys and pinned peer keys live."""
        return self.key_folder or self.var_dir / "keys" / self.zone.value

    @property
    def zone_dir(self) -> Path:
        """This zone's run-time folder (keys, generated secrets)."""
        return self.var_dir / self.zone.value


class Setting(msgspec.Struct, frozen=True):
    """One documented setting: its variable, default, meaning, and how it is parsed."""

    variable: str
    default: str
    description: str
    field: str
    parse: Callable[[str, str], Any]


def _text(_: str, raw: str) -> str:
    return raw


def _typed(target: Any) -> Callable[[str, str], Any]:
    def parse(variable: str, raw: str) -> Any:
        try:
            return msgspec.convert(raw, target, strict=False)
        except msgspec.ValidationError as error:
            message = f"{variable}={raw!r} is not valid: {error}"
            raise SettingsError(message) from None

    return parse


def _number(minimum: int, maximum: int = 10**9) -> Callable[[str, str], int]:
    as_int = _typed(int)

    def parse(variable: str, raw: str) -> int:
        value: int = as_int(variable, raw)
        if not minimum <= value <= maximum:
            message = f"{variable}={value} must be between {minimum} and {maximum}"
            raise SettingsError(message)
        return value

    return parse


def _networks(variable: str, raw: str) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as error:
        message = f"{variable}={raw!r} is not a comma-separated list of networks (CIDR): {error}"
        raise SettingsError(message) from None


def _database_url(variable: str, raw: str) -> str:
    if raw and not raw.startswith(("postgresql://", "postgresql+asyncpg://")):
        message = (
            f"{variable} must be a postgresql:// URL (or empty for the embedded server), "
            f"got {raw.split('://', maxsplit=1)[0]!r}"
        )
        raise SettingsError(message)
    return raw


def _timezone(variable: str, raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"{variable}={raw!r} is not a known IANA time zone"
        raise SettingsError(message) from None
    return raw


def _log_level(variable: str, raw: str) -> LogLevel:
    level: LogLevel = _typed(LogLevel)(variable, raw.upper())
    return level


def _secret(variable: str, raw: str) -> str:
    if raw and len(raw) < 32:
        message = f"{variable} must be at least 32 characters (or empty to generate one)"
        raise SettingsError(message)
    return raw


_DEFAULT_PORTS: Final = {Zone.ISSUANCE: 8001, Zone.RESERVATION: 8002}
# A reverse proxy on the same host (the documented nginx in front of an app on 127.0.0.1):
# unless it is trusted, every proxied request would seem to come from loopback, which the
# default staff networks contain.
LOOPBACK_PROXIES: Final = "127.0.0.1/32,::1/128"


_RESIDENT_SETTINGS: Final = (
    Setting(
        "RESERVATION_PASSWORD_KEY",
        "",
        "Key (32+ characters) of the resident password verifiers; empty generates one into "
        "`$MADOGUCHI_VAR_DIR/reservation/password_key`. Every replica and the eligibility "
        "import must share it.",
        "password_key",
        _secret,
    ),
    Setting(
        "RESERVATION_RESIDENT_SESSION_MINUTES",
        "30",
        "How long a resident's login lasts.",
        "resident_session_minutes",
        _number(1, 24 * 60),
    ),
    Setting(
        "RESERVATION_LOGIN_RATE_LIMIT",
        "30",
        "Resident password attempts per minute from one client address (all processes); 0 = none.",
        "login_rate_limit",
        _number(0, 1_000_000),
    ),
    Setting(
        "RESERVATION_LOGIN_ALARM_FAILURES",
        "100",
        "Failed resident logins per minute, across all IDs, that raise the alarm; 0 = no alarm.",
        "login_alarm_failures",
        _number(0, 10_000_000),
    ),
)


def _zone_settings(zone: Zone) -> tuple[Setting, ...]:
    return _common_zone_settings(zone) + (_RESIDENT_SETTINGS if zone is Zone.RESERVATION else ())


def _common_zone_settings(zone: Zone) -> tuple[Setting, ...]:
    prefix = zone.value.upper()
    name = zone.value
    return (
        Setting(
            f"{prefix}_DATABASE_URL",
            "",
            f"PostgreSQL URL of the {name} database; empty starts the embedded server "
            f"under `$MADOGUCHI_VAR_DIR/pg/{name}`.",
            "database_url",
            _database_url,
        ),
        Setting(
            f"{prefix}_HOST", "127.0.0.1", f"Address the {name} zone listens on.", "host", _text
        ),
        Setting(
            f"{prefix}_PORT",
            str(_DEFAULT_PORTS[zone]),
            f"Port of the {name} zone.",
            "port",
            _number(1, 65535),
        ),
        Setting(
            f"{prefix}_DATABASE_POOL_SIZE",
            "10",
            f"Connections per worker in the {name} zone's pool.",
            "database_pool_size",
            _number(1, 1000),
        ),
        Setting(
            f"{prefix}_SECRET_KEY",
            "",
            f"Key (32+ characters) signing the {name} zone's cookies and CSRF tokens; empty "
            f"generates one into `$MADOGUCHI_VAR_DIR/{name}/secret_key`. Set it when running "
            "several replicas.",
            "secret_key",
            _secret,
        ),
        Setting(
            f"{prefix}_STAFF_NETWORKS",
            "127.0.0.0/8,::1/128",
            f"Networks (CIDR, comma-separated) staff routes of the {name} zone accept; behind "
            "a trusted proxy the client's address it appended to `X-Forwarded-For` counts.",
            "staff_networks",
            _networks,
        ),
        Setting(
            f"{prefix}_TRUSTED_PROXIES",
            LOOPBACK_PROXIES,
            "Addresses (CIDR, comma-separated) of the reverse proxy whose `X-Forwarded-For` "
            "(its last entry) names the client, for the staff networks, the login rate limit "
            "and the access log. The default trusts a proxy on this host; a request without the "
            "header counts by its own address, one whose last entry is no address as an "
            "unknown client (refused by staff routes). The terminal-certificate header is another "
            f"matter: see `{prefix}_CERTIFICATE_PROXIES`.",
            "trusted_proxies",
            _networks,
        ),
        Setting(
            f"{prefix}_CERTIFICATE_PROXIES",
            "",
            "Addresses (CIDR, comma-separated) of the TLS proxy that checks terminal "
            "certificates, whose `MADOGUCHI_TERMINAL_CERTIFICATE_HEADER` names the terminal; "
            "empty = the header is never believed. Only a proxy that overwrites the header on "
            "every request belongs here: whatever connects from these addresses can claim any "
            f"registered terminal. Needed by `{prefix}_REQUIRE_REGISTERED_TERMINAL`.",
            "certificate_proxies",
            _networks,
        ),
        Setting(
            f"{prefix}_REQUIRE_REGISTERED_TERMINAL",
            "false",
            "Accept staff requests only from terminals with a registered certificate, as "
            f"`{prefix}_CERTIFICATE_PROXIES` name them (start-up fails while it is empty).",
            "require_registered_terminal",
            _typed(bool),
        ),
    )


COMMON_SETTINGS: Final = (
    Setting(
        "MADOGUCHI_VAR_DIR",
        "var",
        "Folder for embedded databases, keys and run-time files.",
        "var_dir",
        lambda _, raw: Path(raw).absolute(),
    ),
    Setting(
        "MADOGUCHI_KEY_DIR",
        "",
        "Folder of the zone's sync keys; empty means `$MADOGUCHI_VAR_DIR/keys/<zone>`.",
        "key_folder",
        lambda _, raw: Path(raw).absolute() if raw else None,
    ),
    Setting(
        "MADOGUCHI_TIMEZONE",
        "Asia/Tokyo",
        "Time zone of the counters (IANA name).",
        "timezone",
        _timezone,
    ),
    Setting(
        "MADOGUCHI_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.", "log_level", _log_level
    ),
    Setting(
        "MADOGUCHI_LOG_FORMAT",
        "json",
        "`json` (one line per event) or `console`.",
        "log_format",
        _typed(LogFormat),
    ),
    Setting(
        "MADOGUCHI_DEBUG",
        "false",
        "Litestar debug mode; never true in production.",
        "debug",
        _typed(bool),
    ),
    Setting(
        "MADOGUCHI_DEMO_RESIDENTS",
        "300",
        "How many synthetic residents `make run` seeds.",
        "demo_residents",
        _number(0, 10_000_000),
    ),
    Setting(
        "MADOGUCHI_REDIS_URL",
        "",
        "Redis for sessions and rate limits shared by several replicas; empty keeps them in "
        "PostgreSQL and in the process.",
        "redis_url",
        _text,
    ),
    Setting(
        "MADOGUCHI_TERMINAL_CERTIFICATE_HEADER",
        "X-Client-Certificate-Fingerprint",
        "Header in which the TLS proxy passes the terminal certificate's fingerprint.",
        "terminal_certificate_header",
        _text,
    ),
    Setting(
        "MADOGUCHI_PASSWORD_MIN_LENGTH",
        "12",
        "Shortest staff password accepted.",
        "password_min_length",
        _number(8, 128),
    ),
    Setting(
        "MADOGUCHI_PASSWORD_EXPIRY_DAYS",
        "365",
        "Days before a staff password must be renewed; 0 = never.",
        "password_expiry_days",
        _number(0, 3650),
    ),
    Setting(
        "MADOGUCHI_PASSWORD_WARNING_DAYS",
        "14",
        "Days before expiry that staff are warned.",
        "password_warning_days",
        _number(0, 365),
    ),
    Setting(
        "MADOGUCHI_PASSWORD_HISTORY",
        "5",
        "How many earlier passwords may not be reused.",
        "password_history",
        _number(0, 50),
    ),
    Setting(
        "MADOGUCHI_STAFF_LOCKOUT_THRESHOLD",
        "5",
        "Failed staff logins that lock the account.",
        "staff_lockout_threshold",
        _number(1, 100),
    ),
    Setting(
        "MADOGUCHI_STAFF_LOCKOUT_MINUTES",
        "30",
        "Minutes a locked staff account stays locked; 0 = until an administrator unlocks it.",
        "staff_lockout_minutes",
        _number(0, 10_000_000),
    ),
    Setting(
        "MADOGUCHI_REQUIRE_TOTP_FOR_ADMINISTRATORS",
        "false",
        "Require a second factor (TOTP) of staff holding administrator permissions.",
        "require_totp_for_administrators",
        _typed(bool),
    ),
    Setting(
        "MADOGUCHI_SESSION_IDLE_MINUTES",
        "30",
        "Staff sessions end after this much inactivity.",
        "session_idle_minutes",
        _number(1, 24 * 60),
    ),
    Setting(
        "MADOGUCHI_SESSION_ABSOLUTE_HOURS",
        "10",
        "Staff sessions end this long after login.",
        "session_absolute_hours",
        _number(1, 24 * 7),
    ),
    Setting(
        "MADOGUCHI_DORMANT_ACCOUNT_DAYS",
        "90",
        "Accounts unused this long appear in the account review report.",
        "dormant_account_days",
        _number(1, 3650),
    ),
    Setting(
        "MADOGUCHI_AUDIT_RETENTION_DAYS",
        "0",
        "Days the access log is kept before archive-and-prune may remove entries; 0 = forever.",
        "audit_retention_days",
        _number(0, 36500),
    ),
)


def all_settings() -> tuple[Setting, ...]:
    """Return every setting of both zones, in the order the README documents them."""
    return COMMON_SETTINGS + _zone_settings(Zone.ISSUANCE) + _zone_settings(Zone.RESERVATION)


def _environment(env_file: Path | None) -> dict[str, str]:
    """The process environment over the optional ``.env`` file (the environment wins)."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def load_settings(
    zone: Zone, environment: Mapping[str, str] | None = None, *, env_file: Path | None = None
) -> ZoneSettings:
    """Read and validate one zone's settings; raise :class:`SettingsError` naming the variable."""
    env = dict(environment) if environment is not None else _environment(env_file)
    values: dict[str, Any] = {"zone": zone}
    for setting in COMMON_SETTINGS + _zone_settings(zone):
        raw = env.get(setting.variable, setting.default).strip()
        values[setting.field] = setting.parse(setting.variable, raw)
    settings = ZoneSettings(**values)
    _check_together(settings)
    return settings


def _check_together(settings: ZoneSettings) -> None:
    """Refuse settings that are each valid but cannot work together, naming what to set."""
    prefix = settings.zone.value.upper()
    if settings.require_registered_terminal and not settings.certificate_proxies:
        message = (
            f"{prefix}_REQUIRE_REGISTERED_TERMINAL=true needs {prefix}_CERTIFICATE_PROXIES, "
            "the address of the TLS proxy that passes terminal certificates (127.0.0.1/32 for "
            "nginx on this host, see deploy/README.md): without it no terminal is ever "
            "recognised and every staff request is refused"
        )
        raise SettingsError(message)


@functools.cache
def get_settings(zone: Zone) -> ZoneSettings:
    """The zone's settings, read once per process from the environment and ``./.env``."""
    return load_settings(zone, env_file=Path(".env"))
