"""Configuration: TOML files laid over the packaged defaults, then environment variables.

The packaged default file (`config/syncd.toml` in the source tree) holds every key with its
documentation; these dataclasses hold none of the defaults, so the file is the one place they live.
Validation happens once, at start-up, and an error names where the value came from (a file or an
environment variable), the key, and what was expected.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from connectors.city.client import CitySettings
from connectors.fault_settings import FaultSettings
from connectors.http import HttpSettings
from connectors.national.client import NationalSettings
from reconcile.calendar import WorkingCalendar
from reconcile.compare import AUTHORITY_FIELDS, Policy
from reconcile.deadlines import PausePolicy
from reconcile.model import Source
from reconcile.statusmap import StatusMap
from syncd.i18n import t
from syncd.pusher import PushSettings
from syncd.reports import ReportSettings
from syncd.service import Reread
from syncd.store import RetryPolicy

DEFAULTS_NAME = "syncd.toml"

# Environment variable -> configuration key it overrides.
ENVIRONMENT: dict[str, str] = {
    "SYNCD_REDIS_URL": "redis.url",
    "SYNCD_KEY_PREFIX": "redis.key_prefix",
    "SYNCD_DATA_DIR": "redis.data_dir",
    "SYNCD_POLL_INTERVAL": "runtime.poll_interval_seconds",
    "SYNCD_HTTP_HOST": "http.host",
    "SYNCD_HTTP_PORT": "http.port",
    "SYNCD_LOG_FORMAT": "log.format",
    "SYNCD_LOG_LEVEL": "log.level",
    "SYNCD_LANG": "ui.language",
    "SYNCD_CITY_URL": "portals.city.base_url",
    "SYNCD_CITY_API_KEY": "portals.city.api_key",
    "SYNCD_NATIONAL_URL": "portals.national.base_url",
    "SYNCD_NATIONAL_USERNAME": "portals.national.username",
    "SYNCD_NATIONAL_PASSWORD": "portals.national.password",
}
CONFIG_FILE_VARIABLE = "SYNCD_CONFIG"
# Keys of earlier versions -> the message saying what replaced them.
RENAMED: dict[str, str] = {"reconcile.migration_cutover": "config.migration_cutover"}
# Variables under this prefix belong to the test suite, not to the service.
IGNORED_VARIABLE_PREFIX = "SYNCD_TEST_"


class ConfigError(Exception):
    def __init__(self, where: str, key: str, problem: str) -> None:
        self.where, self.key, self.problem = where, key, problem
        super().__init__(t("config.error", where=where, key=key or "-", problem=problem))


def _check(kind: str, **limits: float) -> dict[str, Any]:
    return {"kind": kind, **limits}


@dataclass(frozen=True)
class AgencyConfig:
    code: str
    name: str
    short_name: str = field(metadata=_check("nonempty"))


@dataclass(frozen=True)
class CalendarConfig:
    extra_days_off: list[str] = field(metadata=_check("date"))
    extra_working_days: list[str] = field(metadata=_check("date"))

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar.with_overrides(
            map(date.fromisoformat, self.extra_days_off),
            map(date.fromisoformat, self.extra_working_days),
        )


@dataclass(frozen=True)
class DeadlinesConfig:
    pause_policy: Literal["restart", "extend", "subtract"]
    paper_cutoff: str = field(metadata=_check("clock"))
    due_soon_days: int = field(metadata=_check("", low=0, high=30))
    check_due_dates: bool

    def policy(self) -> PausePolicy:
        return PausePolicy(self.pause_policy)

    def cutoff(self) -> time:
        return time.fromisoformat(self.paper_cutoff)


@dataclass(frozen=True)
class RedisConfig:
    url: str = field(metadata=_check("redis_url"))
    key_prefix: str = field(metadata=_check("nonempty"))
    data_dir: str = field(metadata=_check("nonempty"))


@dataclass(frozen=True)
class RuntimeConfig:
    poll_interval_seconds: float = field(metadata=_check("", low=0.1))
    reconcile_batch: int = field(metadata=_check("", low=1, high=5_000))
    redis_retry_max_seconds: float = field(metadata=_check("", low=0.1))
    sweep_interval_hours: float = field(metadata=_check("", low=0))
    lease_seconds: float = field(metadata=_check("", low=1, high=3600))
    retry_after_seconds: float = field(metadata=_check("", low=0.1))
    retry_max_seconds: float = field(metadata=_check("", low=0.1))
    dead_letter_after: int = field(metadata=_check("", low=1, high=100))

    def retries(self) -> RetryPolicy:
        return RetryPolicy(self.dead_letter_after, self.retry_after_seconds, self.retry_max_seconds)


@dataclass(frozen=True)
class RereadConfig:
    recent_window_hours: float = field(metadata=_check("", low=0))
    recent_every_minutes: float = field(metadata=_check("", low=0))
    deep_window_days: float = field(metadata=_check("", low=0))
    deep_every_hours: float = field(metadata=_check("", low=0))
    full_every_days: float = field(metadata=_check("", low=0))
    counts_days: int = field(metadata=_check("", low=1, high=3660))
    counts_every_minutes: float = field(metadata=_check("", low=0))

    def schedules(self) -> tuple[Reread, ...]:
        """The re-reads switched on (an interval of 0 switches one off), most frequent first."""
        planned = (
            Reread(
                "recent",
                timedelta(hours=self.recent_window_hours),
                timedelta(minutes=self.recent_every_minutes),
            ),
            Reread(
                "deep",
                timedelta(days=self.deep_window_days),
                timedelta(hours=self.deep_every_hours),
            ),
            Reread("full", None, timedelta(days=self.full_every_days)),
            Reread(
                "counts",
                timedelta(days=self.counts_days),
                timedelta(minutes=self.counts_every_minutes),
                by_counts=True,
            ),
        )
        return tuple(r for r in planned if r.every > timedelta(0))


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool
    host: str = field(metadata=_check("nonempty"))
    port: int = field(metadata=_check("", low=0, high=65535))
    session_hours: float = field(metadata=_check("", low=0.01))
    login_attempts: int = field(metadata=_check("", low=1, high=1000))
    login_window_seconds: int = field(metadata=_check("", low=1))
    login_delay_max_seconds: int = field(metadata=_check("", low=1, high=86400))
    login_address_attempts: int = field(metadata=_check("", low=1, high=1_000_000))
    secure_cookies: bool
    behind_proxy: bool
    stalled_after_intervals: float = field(metadata=_check("", low=1))


@dataclass(frozen=True)
class LogConfig:
    format: Literal["auto", "json", "console"]
    level: Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class UiConfig:
    language: Literal["vi", "en"]


@dataclass(frozen=True)
class PortalConfig:
    """What both portals' sections share."""

    base_url: str = field(metadata=_check("url"))
    page_size: int = field(metadata=_check("", low=1, high=500))
    timeout_seconds: float = field(metadata=_check("", low=0.1))
    connect_timeout_seconds: float = field(metadata=_check("", low=0.1))
    read_timeout_seconds: float = field(metadata=_check("", low=0.1))
    attempts: int = field(metadata=_check("", low=1, high=20))
    backoff_max_seconds: float = field(metadata=_check("", low=0.01))
    rate_per_second: float = field(metadata=_check("", low=0.01))
    max_concurrency: int = field(metadata=_check("", low=1, high=64))
    breaker_failures: int = field(metadata=_check("", low=1))
    breaker_cooldown_seconds: float = field(metadata=_check("", low=0.1))
    overlap_seconds: float = field(metadata=_check("", low=0))

    def http(self) -> HttpSettings:
        return HttpSettings(
            timeout_seconds=self.timeout_seconds,
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            attempts=self.attempts,
            backoff_max_seconds=self.backoff_max_seconds,
            rate_per_second=self.rate_per_second,
            max_concurrency=self.max_concurrency,
            breaker_failures=self.breaker_failures,
            breaker_cooldown_seconds=self.breaker_cooldown_seconds,
        )

    def overlap(self) -> timedelta:
        return timedelta(seconds=self.overlap_seconds)


@dataclass(frozen=True)
class CityPortalConfig(PortalConfig):
    api_key: str


@dataclass(frozen=True)
class NationalPortalConfig(PortalConfig):
    username: str
    password: str


@dataclass(frozen=True)
class PortalsConfig:
    city: CityPortalConfig
    national: NationalPortalConfig


@dataclass(frozen=True)
class StatusMapConfig:
    city: dict[str, int] = field(metadata=_check("status"))


@dataclass(frozen=True)
class ReconcileConfig:
    identity_salt: str = field(metadata=_check("nonempty"))
    migration_window: list[str] = field(metadata=_check("date"))
    migration_burst_size: int = field(metadata=_check("", low=0, high=1_000_000))
    migration_burst_minutes: float = field(metadata=_check("", low=0, high=1440))
    authority: dict[str, str] = field(metadata=_check("authority"))

    def window(self) -> tuple[date, date] | None:
        if not self.migration_window:
            return None
        first, last = (date.fromisoformat(day) for day in self.migration_window)
        return first, last

    def policy(self) -> Policy:
        authority = {name: Source(side) for name, side in self.authority.items()}
        return Policy(
            authority=authority,
            migration_window=self.window(),
            migration_burst_size=self.migration_burst_size,
            migration_burst_minutes=self.migration_burst_minutes,
        )


@dataclass(frozen=True)
class WritebackConfig:
    enabled: bool
    burst_share: float = field(metadata=_check("", low=0, high=1))
    burst_min: int = field(metadata=_check("", low=0))
    retry_after_seconds: float = field(metadata=_check("", low=0.1))
    retry_max_seconds: float = field(metadata=_check("", low=0.1))

    def settings(self, agency_name: str) -> PushSettings:
        return PushSettings(
            retry_after=timedelta(seconds=self.retry_after_seconds),
            retry_max=timedelta(seconds=self.retry_max_seconds),
            burst_share=self.burst_share,
            burst_min=self.burst_min,
            agency_name=agency_name,
        )


@dataclass(frozen=True)
class MockConfig:
    dossiers: int = field(metadata=_check("", low=1, high=10_000_000))
    seed: int
    scenario: str
    clock_speed: float = field(metadata=_check("", low=0))
    faults: dict[str, float]


@dataclass(frozen=True)
class CatalogueConfig:
    refresh_hours: float = field(metadata=_check("", low=0.01))


@dataclass(frozen=True)
class ReportConfig:
    cutoff_day: int = field(metadata=_check("", low=1, high=28))
    fields: dict[str, str]


@dataclass(frozen=True)
class Config:
    agency: AgencyConfig
    redis: RedisConfig
    runtime: RuntimeConfig
    http: HttpConfig
    log: LogConfig
    ui: UiConfig
    portals: PortalsConfig
    status_map: StatusMapConfig
    catalogue: CatalogueConfig
    report: ReportConfig
    mock: MockConfig
    reconcile: ReconcileConfig
    writeback: WritebackConfig
    calendar: CalendarConfig
    deadlines: DeadlinesConfig
    reread: RereadConfig
    sources: tuple[str, ...] = field(default=(), compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def policy(self) -> Policy:
        """How to reconcile: authority and migration from `reconcile`, due-date checks from
        `calendar` and `deadlines`."""
        policy = self.reconcile.policy()
        return replace(
            policy,
            calendar=self.calendar.calendar() if self.deadlines.check_due_dates else None,
            pause_policy=self.deadlines.policy(),
            paper_cutoff=self.deadlines.cutoff(),
        )

    def report_settings(self) -> ReportSettings:
        return ReportSettings(
            agency_code=self.agency.code,
            agency_name=self.agency.name,
            short_name=self.agency.short_name,
            cutoff_day=self.report.cutoff_day,
            fields=dict(self.report.fields),
            pause_policy=self.deadlines.pause_policy,
            paper_cutoff=self.deadlines.paper_cutoff,
            due_soon_days=self.deadlines.due_soon_days,
            migration_window=tuple(self.reconcile.migration_window),
            migration_burst_size=self.reconcile.migration_burst_size,
            migration_burst_minutes=self.reconcile.migration_burst_minutes,
            extra_days_off=tuple(self.calendar.extra_days_off),
            extra_working_days=tuple(self.calendar.extra_working_days),
        )

    def fault_settings(self, overrides: Mapping[str, float] | None = None) -> FaultSettings:
        """The mocks' faults: `mock.faults`, then `overrides` (command-line flags). Raises
        ValueError starting with the offending name."""
        values: dict[str, Any] = {**self.mock.faults, **(overrides or {})}
        names = [f.name for f in fields(FaultSettings) if f.name != "malformed_kinds"]
        for name in values:
            if name not in names:
                raise ValueError(f"{name}: {t('config.unknown', allowed=', '.join(names))}")
        seed = values.get("seed", 0)
        if isinstance(seed, bool) or not float(seed).is_integer():
            raise ValueError(f"seed: {seed!r} is not a whole number")
        settings = replace(FaultSettings(), **{**values, "seed": int(seed)})
        settings.validate()
        return settings

    def city_statuses(self) -> StatusMap:
        return StatusMap.from_config(self.status_map.city)

    def city_settings(self) -> CitySettings:
        c = self.portals.city
        return CitySettings(
            c.base_url, c.api_key, c.page_size, c.http(), c.overlap(), self.reconcile.identity_salt
        )

    def national_settings(self) -> NationalSettings:
        n = self.portals.national
        return NationalSettings(
            n.base_url,
            n.username,
            n.password,
            self.agency.code,
            n.page_size,
            n.http(),
            n.overlap(),
            self.reconcile.identity_salt,
        )


def defaults_path() -> Path:
    """The packaged default file: `syncd/defaults/` when installed, `config/` in a source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "defaults" / DEFAULTS_NAME, here.parent / "config" / DEFAULTS_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"packaged {DEFAULTS_NAME} not found beside {here}")


def load(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Defaults, then the file at `path` (or $SYNCD_CONFIG), then environment overrides."""
    env = os.environ if env is None else env
    if path is None and env.get(CONFIG_FILE_VARIABLE):
        path = env[CONFIG_FILE_VARIABLE]
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    default_file = defaults_path()
    default_name = str(default_file)
    _merge(merged, _parse(default_file.read_text("utf-8"), default_name), default_name, origins, "")
    sources = [default_name]
    if path is not None:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                name, "", t("config.unreadable", reason=exc.strerror or exc)
            ) from None
        _merge(merged, _parse(text, name), name, origins, "")
        sources.append(name)
    for variable, key in ENVIRONMENT.items():
        if variable in env:
            _set(merged, key, env[variable])
            origins[key] = variable
    origin = _origin_of(origins, default_name)
    config: Config = _build(Config, merged, "", origin)
    for name in config.reconcile.authority:
        if name not in AUTHORITY_FIELDS:
            key = f"reconcile.authority.{name}"
            allowed = t("config.unknown", allowed=", ".join(AUTHORITY_FIELDS))
            raise ConfigError(origin(key), key, allowed)
    window = config.reconcile.migration_window
    if len(window) not in (0, 2) or (window and window[0] > window[1]):
        key = "reconcile.migration_window"
        raise ConfigError(origin(key), key, _expected(t("type.window"), window))
    if config.reconcile.migration_burst_size == 1:
        key = "reconcile.migration_burst_size"
        raise ConfigError(origin(key), key, _expected(t("type.burst"), 1))
    try:
        config.calendar.calendar()
    except ValueError as exc:
        key = "calendar.extra_working_days"
        raise ConfigError(origin(key), key, str(exc)) from None
    try:
        config.fault_settings()
    except ValueError as exc:
        name, _, problem = str(exc).partition(": ")
        key = f"mock.faults.{name}"
        raise ConfigError(origin(key), key, problem) from None
    unknown = sorted(
        variable
        for variable in env
        if variable.startswith("SYNCD_")
        and variable not in ENVIRONMENT
        and variable != CONFIG_FILE_VARIABLE
        and not variable.startswith(IGNORED_VARIABLE_PREFIX)
    )
    warnings = tuple(t("config.unknown_env", variable=variable) for variable in unknown)
    return replace(config, sources=tuple(sources), warnings=warnings)


def _parse(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, "", t("config.toml", reason=exc)) from None


def _merge(
    into: dict[str, Any], layer: Mapping[str, Any], name: str, origins: dict[str, str], prefix: str
) -> None:
    for key, value in layer.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            origins.setdefault(path, name)
            _merge(into[key], value, name, origins, path + ".")
        else:
            into[key] = value
            _record_origin(origins, path, value, name)


def _record_origin(origins: dict[str, str], path: str, value: Any, name: str) -> None:
    origins[path] = name
    if isinstance(value, dict):
        for key, inner in value.items():
            _record_origin(origins, f"{path}.{key}", inner, name)


def _set(tree: dict[str, Any], dotted: str, value: str) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _origin_of(origins: Mapping[str, str], fallback: str) -> Callable[[str], str]:
    def origin(key: str) -> str:
        while key:
            if key in origins:
                return origins[key]
            # An item of a list ("calendar.extra_days_off[0]") comes from where the list does.
            list_key, bracket, _ = key.partition("[")
            key = list_key if bracket else key.rpartition(".")[0]
        return fallback

    return origin


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, dict) else "{…}"


def _build(cls: type[Any], data: Any, path: str, origin: Callable[[str], str]) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(origin(path), path, _expected(t("type.table"), data))
    declared = [f for f in fields(cls) if f.name not in ("sources", "warnings")]
    names = [f.name for f in declared]
    for key in data:
        if key not in names:
            where = _join(path, key)
            if where in RENAMED:
                raise ConfigError(origin(where), where, t(RENAMED[where]))
            raise ConfigError(origin(where), where, t("config.unknown", allowed=", ".join(names)))
    hints = get_type_hints(cls)
    values = {}
    for f in declared:
        key = _join(path, f.name)
        if f.name not in data:
            raise ConfigError(origin(key), key, t("config.missing"))
        values[f.name] = _value(hints[f.name], data[f.name], key, f.metadata, origin)
    return cls(**values)


def _expected(what: str, got: Any) -> str:
    return t("config.expected", expected=what, got=_show(got))


def _value(
    tp: Any, raw: Any, key: str, meta: Mapping[str, Any], origin: Callable[[str], str]
) -> Any:
    where = origin(key)
    from_env = where in ENVIRONMENT
    if isinstance(tp, type) and is_dataclass(tp):
        return _build(tp, raw, key, origin)
    kind = get_origin(tp)
    if kind is Literal:
        choices = get_args(tp)
        if raw not in choices:
            expected = t("type.choice", choices=", ".join(f'"{c}"' for c in choices))
            raise ConfigError(where, key, _expected(expected, raw))
        return raw
    if kind is list:
        if not isinstance(raw, list):
            raise ConfigError(where, key, _expected(t("type.list"), raw))
        inner = get_args(tp)[0]
        return [_value(inner, v, f"{key}[{i}]", meta, origin) for i, v in enumerate(raw)]
    if kind is dict:
        if not isinstance(raw, dict):
            raise ConfigError(where, key, _expected(t("type.table"), raw))
        inner = get_args(tp)[1]
        return {k: _value(inner, v, f"{key}.{k}", meta, origin) for k, v in raw.items()}
    if tp in (int, float):
        return _number(tp, raw, key, meta, where, from_env)
    if tp is bool:
        if not isinstance(raw, bool):
            raise ConfigError(where, key, _expected(t("type.bool"), raw))
        return raw
    if tp is str:
        return _string(raw, key, meta.get("kind", ""), where)
    raise TypeError(f"unsupported configuration type {tp!r} for {key}")  # a bug, not bad input


def _number(
    tp: type, raw: Any, key: str, meta: Mapping[str, Any], where: str, from_env: bool
) -> int | float:
    if meta.get("kind") == "status":
        meta = {"low": 1, "high": 10}
    low, high = meta.get("low"), meta.get("high")
    kind_name = t("type.int") if tp is int else t("type.float")
    if low is not None and high is not None:
        expected = t("type.range", kind=kind_name, low=low, high=high)
    elif low is not None:
        expected = t("type.min", kind=kind_name, low=low)
    else:
        expected = kind_name
    value = raw
    if from_env and isinstance(raw, str):
        try:
            value = tp(raw)
        except ValueError:
            raise ConfigError(where, key, _expected(expected, raw)) from None
    valid_type = isinstance(value, int) if tp is int else isinstance(value, int | float)
    if isinstance(value, bool) or not valid_type or not math.isfinite(value):
        raise ConfigError(where, key, _expected(expected, raw))
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(where, key, _expected(expected, raw))
    return int(value) if tp is int else float(value)


def _string(raw: Any, key: str, kind: str, where: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(where, key, _expected(t("type.str"), raw))
    value = raw.strip()
    if kind == "nonempty" and not value:
        raise ConfigError(where, key, _expected(t("type.str"), raw))
    if kind == "url" and not value.startswith(("http://", "https://")):
        raise ConfigError(where, key, _expected(t("type.url"), raw))
    if kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ConfigError(where, key, _expected(t("type.date"), raw)) from None
    if kind == "clock":
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ConfigError(where, key, _expected(t("type.clock"), raw)) from None
    if kind == "authority" and value not in ("city", "national"):
        raise ConfigError(
            where, key, _expected(t("type.choice", choices='"city", "national"'), raw)
        )
    if kind == "redis_url" and value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(where, key, _expected(t("type.redis_url"), raw))
    return value


__all__ = ["ENVIRONMENT", "Config", "ConfigError", "load"]
