"""Configuration: one TOML file plus environment overrides.

Lookup order (later wins): built-in defaults, the TOML file (``digest --config PATH`` or
``DIGEST_CONFIG``), environment variables ``DIGEST_<SECTION>__<KEY>`` (e.g.
``DIGEST_DATABASE__URL``). Secrets never come from the file: the SMTP password is
``DIGEST_SMTP_PASSWORD`` and the signing key ``DIGEST_SECRET_KEY``; a file that contains them is
refused so they do not end up in version control.

Public names: :class:`Settings` and its sections, :func:`load_settings`, :func:`parse_interval`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from digest.errors import ConfigError
from digest.models import SOURCE_KINDS

DEFAULT_DATA_DIR = Path("data")
_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_interval(value: str | int | float) -> int:
    """``"30m"``, ``"6h"``, ``"1d"`` or a number of seconds -> seconds."""
    if isinstance(value, (int, float)):
        seconds = int(value)
    else:
        m = _INTERVAL_RE.match(value)
        if not m:
            raise ValueError(f"interval {value!r} is not like 30m, 6h or 1d")
        seconds = int(float(m.group(1)) * _UNITS[m.group(2)])
    if seconds < 60:
        raise ValueError("interval must be at least 60 seconds (be polite to feed hosts)")
    return seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = ""  # empty: sqlite:///<data_dir>/digest.db


class FetchSettings(_Section):
    user_agent: str = "digest/0.1 (self-hosted paper alerts; +https://github.com/digest/digest)"
    #: Hosts or CIDRs exempt from the private-address guard (e.g. an intranet feed, or tests' 127.0.0.1).
    allow_hosts: list[str] = Field(default_factory=list)
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    #: Minimum seconds between two requests to one host; arXiv gets 3 s (API terms of use).
    host_spacing: float = 1.0

    @field_validator("allow_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        for h in hosts:
            if "/" in h:
                try:
                    ipaddress.ip_network(h, strict=False)
                except ValueError as exc:
                    raise ValueError(f"allow_hosts entry {h!r} is not a host or CIDR") from exc
        return hosts


class FeedSettings(_Section):
    name: str
    kind: str
    url: str | None = None
    #: arXiv only: categories such as ["cs.LG", "stat.ML"]; the URL is built from them.
    categories: list[str] = Field(default_factory=list)
    interval: int = 3600
    #: Optional source-specific query (OpenReview venue id, bioRxiv server...).
    venue: str | None = None
    server: str | None = None

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> int:
        return parse_interval(v)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in SOURCE_KINDS:
            raise ValueError(f"kind {v!r} is not one of {', '.join(SOURCE_KINDS)}")
        return v

    @model_validator(mode="after")
    def _where(self) -> "FeedSettings":
        if not self.url and not self.categories and not self.venue and self.kind not in ("hf-daily", "biorxiv"):
            raise ValueError(f"feed {self.name!r} needs a url (or categories for arXiv)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"feed {self.name!r}: url must be http(s)")
        return self


class SmtpSettings(_Section):
    host: str = "localhost"
    port: int = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    from_: str = Field("digest <digest@localhost>", alias="from")
    timeout: float = 30.0
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DeliverySettings(_Section):
    """How digests leave: "smtp" (the [smtp] section) or "maildir" (a local Maildir, for one host)."""

    method: Literal["smtp", "maildir"] = "smtp"
    maildir: Path | None = None
    #: Connections (one delivery process each) over which `digest send` delivers while it is still
    #: building digests. Two keep a 2-core machine busy: one alone is a chain of client and server
    #: work per message (docs/benchmarks.md, "Digests"). Lower it for a relay that limits sessions.
    connections: int = Field(default=2, ge=1, le=8)

    @model_validator(mode="after")
    def _where(self) -> "DeliverySettings":
        if self.method == "maildir" and self.maildir is None:
            raise ValueError('method "maildir" needs maildir = PATH')
        return self


class WebSettings(_Section):
    base_url: str = "http://localhost:8000"
    host: str = "127.0.0.1"
    port: int = 8000


class SubscriptionSettings(_Section):
    name: str
    query: str
    every: Literal["daily", "weekly"] = "daily"
    channel: Literal["email", "feed", "both"] = "both"
    threshold: float | None = None


class UserSettings(_Section):
    email: str
    name: str | None = None
    timezone: str = "UTC"
    hour: int = Field(7, ge=0, le=23)
    weekday: int = Field(0, ge=0, le=6)  # Monday=0, for weekly digests
    subscriptions: list[SubscriptionSettings] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v


class TagSettings(_Section):
    name: str
    query: str


class Settings(BaseSettings):
    """The whole configuration. Section names and keys are a public contract (issue #2, #3, #4)."""

    model_config = SettingsConfigDict(env_prefix="DIGEST_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = DEFAULT_DATA_DIR
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    feeds: list[FeedSettings] = Field(default_factory=list)
    smtp: SmtpSettings = Field(default_factory=lambda: SmtpSettings.model_validate({}))
    web: WebSettings = Field(default_factory=WebSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    users: list[UserSettings] = Field(default_factory=list)
    tags: list[TagSettings] = Field(default_factory=list)
    # Secrets: environment only (DIGEST_SMTP_PASSWORD, DIGEST_SECRET_KEY).
    smtp_password: SecretStr | None = None
    secret_key: SecretStr | None = None
    config_path: Path | None = None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file, which arrives as init kwargs.
        return env_settings, init_settings

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'digest.db').as_posix()}"

    def feed(self, name: str) -> FeedSettings:
        for f in self.feeds:
            if f.name == name:
                return f
        raise ConfigError(f"no feed named {name!r}", key="feeds")


_SECRET_KEYS = {("smtp", "password"), (None, "smtp_password"), (None, "secret_key"), ("web", "secret_key")}


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read the TOML file (if any) and apply environment overrides; ConfigError on any problem."""
    raw: dict[str, Any] = {}
    chosen = path or os.environ.get("DIGEST_CONFIG")
    if chosen:
        p = Path(chosen)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("file not found", path=str(p)) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=str(p)) from None
        for section, key in _SECRET_KEYS:
            holder = raw.get(section, {}) if section else raw
            if isinstance(holder, dict) and key in holder:
                env = "DIGEST_SMTP_PASSWORD" if "password" in key else "DIGEST_SECRET_KEY"
                raise ConfigError(f"secrets are not read from the file; set {env} in the environment instead",
                                  path=str(p), key=f"{section}.{key}" if section else key)
        raw["config_path"] = p
        if "data_dir" in raw and not Path(raw["data_dir"]).is_absolute():
            raw["data_dir"] = (p.parent / raw["data_dir"]).resolve()
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ConfigError(err["msg"].removeprefix("Value error, "), path=str(chosen) if chosen else None, key=loc) from None
    names = [f.name for f in settings.feeds]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"feed names must be unique: {', '.join(sorted(dupes))}", key="feeds")
    return settings
