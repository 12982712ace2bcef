"""Configuration: one TOML file plus environment overrides.

Lookup order (later wins): built-in defaults, the TOML file (``digest --config PATH`` or
``DIGEST_CONFIG``), environment variables ``DIGEST_<SECTION>__<KEY>`` (e.g.
``DIGEST_DATABASE__URL``). Secrets never come from the file: the SMTP password is
``DIGEST_SMTP_PASSWORD`` and the signing key ``DIGEST_SECRET_KEY``; a file that contains them is
refused so they do not end up in version control.

Paths in the file (``data_dir``, a relative ``sqlite:///`` URL, ``[delivery] maildir``) are relative to the file; from the
environment, to the working directory. Unknown keys are errors, and every error names the file or
environment variable, the key and the feed, user, subscription or tag concerned.

Public names: :class:`Settings` and its sections, :func:`load_settings`, :func:`parse_interval`,
:func:`check_arxiv_category`, :func:`check_email`, :func:`redact_url`, :func:`validation_error`.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from digest.errors import ConfigError
from digest.ids import is_arxiv_category
from digest.models import SOURCE_KINDS

DEFAULT_DATA_DIR = Path("data")
# The sign is accepted here so that "-1h" is refused as too short rather than as unreadable.
_INTERVAL_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
MIN_INTERVAL = 60


def parse_interval(value: str | int | float) -> int:
    """``"30m"``, ``"6h"``, ``"1d"`` or a number of seconds -> seconds."""
    # bool is an int to Python: `interval = true` would otherwise read as 1 second.
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        shown = str(value).lower() if isinstance(value, bool) else repr(value)  # as written in TOML
        raise ValueError(f"interval {shown} is not a duration (like 30m, 6h, 1d or seconds)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"interval {value} is not a duration (like 30m, 6h, 1d or seconds)")
    if isinstance(value, (int, float)):
        seconds = int(value)
    else:
        m = _INTERVAL_RE.match(value)
        if not m:
            raise ValueError(f"interval {value!r} is not like 30m, 6h or 1d (units s, m, h, d, w)")
        seconds = int(float(m.group(1)) * _UNITS[m.group(2)])
    if seconds < MIN_INTERVAL:
        raise ValueError(f"interval must be at least {MIN_INTERVAL} seconds (be polite to feed hosts)")
    return seconds


#: arXiv archives (https://arxiv.org/category_taxonomy), as rss.arxiv.org and the API know them.
def check_arxiv_category(category: str) -> str:
    """The category stripped, or ValueError: checked when the config loads, not at the first poll."""
    cat = category.strip()
    if not is_arxiv_category(cat):
        raise ValueError(f"{category!r} is not an arXiv archive or category (like cs or cs.LG; see "
                         "https://arxiv.org/category_taxonomy)")
    return cat


def _clean_name(value: str, what: str) -> str:
    # The store strips names; " a" and "a" would otherwise be two config entries but one row.
    value = value.strip()
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


_URL_AUTHORITY = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:)?//(?P<authority>[^/?#]*)")


#: Query parameters that carry secrets: libpq's ``?password=`` (and ``sslpassword``), API keys and
#: tokens that private feed URLs carry.
_SECRET_PARAM = re.compile(r"(?i)(?<=[?&;])((?:ssl)?password|passwd|pwd|secret|token|access_token|auth|"
                           r"api_?key|key|sig|signature)=[^&;#]*")


def redact_url(url: str) -> str:
    """``url`` with its userinfo replaced by ``***``: ``postgresql://u:secret@host/db`` ->
    ``postgresql://***@host/db``. A user name can be a token too (``https://TOKEN@host/``), so all of
    it goes (RFC 3986 §3.2.1 deprecates passwords in URLs for this reason); so do the values of query
    parameters that carry secrets (``?password=``, ``?key=``). Works on invalid URLs, since those are
    what error messages show; the one redaction for the database URL, feed URLs and fetch errors."""
    if "?" in url:
        url = _SECRET_PARAM.sub(r"\1=***", url)
    m = _URL_AUTHORITY.match(url)
    if not m or "@" not in m["authority"]:
        return url
    host = m["authority"].rsplit("@", 1)[1]
    return f"{m['head'] or ''}//***@{host}{url[m.end():]}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = ""  # empty: sqlite:///<data_dir>/digest.db


class FetchSettings(_Section):
    user_agent: str = "digest/0.1 (self-hosted paper alerts; +https://github.com/digest/digest)"
    #: Hosts or CIDRs exempt from the private-address guard (e.g. an intranet feed, or tests' 127.0.0.1).
    allow_hosts: list[str] = Field(default_factory=list)
    # Zero timeouts would fail every request; negative counts would loop or never fetch.
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_redirects: int = Field(default=5, ge=0)
    retries: int = Field(default=3, ge=0)
    #: Minimum seconds between two requests to one host; arXiv gets 3 s (API terms of use).
    host_spacing: float = Field(default=1.0, ge=0)
    #: Where backfills and id lookups ask the arXiv API, and backfills bioRxiv's details API (a
    #: mirror or a caching proxy may stand in; the operator's choice, so not under the address guard).
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    biorxiv_api_url: str = "https://api.biorxiv.org"
    #: Where ``openreview`` feeds with a ``venue`` list its notes (API v2), and where digest signs in.
    openreview_api_url: str = "https://api2.openreview.net"
    #: The OpenReview account digest signs in as (its password: DIGEST_OPENREVIEW_PASSWORD). Since
    #: 2026 the API refuses anonymous venue listings ("Challenge verification required").
    openreview_username: str | None = None

    @field_validator("arxiv_api_url", "biorxiv_api_url", "openreview_api_url")
    @classmethod
    def _check_api_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url

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

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _clean_name(v, "a feed name")

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

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        return [check_arxiv_category(c) for c in v]

    @model_validator(mode="after")
    def _where(self) -> "FeedSettings":
        # Each kind is told where to fetch in its own way (sources.feed_url); a key another kind
        # uses would be silently ignored, so it is refused while the config loads, not at the poll.
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"feed {self.name!r}: url must be http(s)")
        for key, kinds in _FEED_OPTION_KINDS.items():
            if getattr(self, key) and self.kind not in kinds:
                raise ValueError(f"feed {self.name!r}: {key} is only read for kind {' or '.join(kinds)}, "
                                 f"not {self.kind}")
        if not self.url and not self.categories and not self.venue and self.kind not in ("hf-daily", "biorxiv"):
            how = {"arxiv-rss": "categories", "arxiv-atom": "categories", "openreview": "venue"}.get(self.kind)
            raise ValueError(f"feed {self.name!r} of kind {self.kind} needs a url" + (f" or {how}" if how else ""))
        return self


#: Feed keys that only some kinds read (the others would ignore them).
_FEED_OPTION_KINDS = {"categories": ("arxiv-rss", "arxiv-atom"), "venue": ("openreview",), "server": ("biorxiv",)}


class SmtpSettings(_Section):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    from_: str = Field("digest <digest@localhost>", alias="from")
    timeout: float = Field(default=30.0, gt=0)
    #: The address the mailto URI of List-Unsubscribe names (RFC 2369 §3.2); None: the ``from``
    #: address. An operator routes it to `digest unsubscribe-mail` (an MTA pipe alias or a Maildir).
    unsubscribe_address: str | None = None
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("unsubscribe_address")
    @classmethod
    def _unsubscribe_address(cls, v: str | None) -> str | None:
        # A bare address: it becomes the path of a mailto URI, where a display name has no place.
        return check_email(v) if v is not None and v.strip() else None


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
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        # Every emailed link starts with it: "localhost:8000/..." would be a dead link in each message.
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"base_url {v!r} must start with https:// (or http://)")
        return v


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(value: str) -> str:
    """``value`` stripped if digest can deliver to it, else ValueError: one @ with text on both
    sides, an ASCII name before it (anything else needs SMTPUTF8, RFC 6531, which digest does not
    use), and a domain IDNA can encode (``bücher.example`` goes as ``xn--bcher-kva.example``)."""
    email = value.strip()
    if not _EMAIL_RE.match(email):
        raise ValueError(f"{value!r} is not an email address")
    local, _, domain = email.rpartition("@")
    if not local.isascii():
        raise ValueError(f"{email!r}: a name with non-ASCII letters before the @ needs SMTPUTF8, which digest "
                         "does not use")
    try:
        domain.encode("idna")
    except UnicodeError:
        raise ValueError(f"{email!r}: {domain!r} is not a domain name") from None
    return email


class SubscriptionSettings(_Section):
    name: str
    query: str
    every: Literal["daily", "weekly"] = "daily"
    channel: Literal["email", "feed", "both"] = "both"
    # TOML has nan and inf; a score is never compared with them usefully (the store refuses them).
    threshold: float | None = Field(default=None, allow_inf_nan=False)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _clean_name(v, "a subscription name")


class UserSettings(_Section):
    email: str
    name: str | None = None
    timezone: str = "UTC"
    hour: int = Field(7, ge=0, le=23)
    weekday: int = Field(0, ge=0, le=6)  # Monday=0, for weekly digests
    #: an "Updated" section for new versions of papers already sent
    show_updates: bool = False
    #: a digest also when no paper matched ("No new papers")
    send_empty: bool = False
    subscriptions: list[SubscriptionSettings] = Field(default_factory=list)

    def given_settings(self) -> dict[str, Any]:
        """The user's settings the file gives (name, timezone, hour, weekday, show_updates,
        send_empty), leaving out the ones it leaves to their defaults: applying the file again
        changes only these of a stored user, and what the user chose on the web stays."""
        return {key: getattr(self, key) for key in _USER_SETTINGS if key in self.model_fields_set}

    @field_validator("hour", "weekday", mode="before")
    @classmethod
    def _whole_number(cls, v: Any) -> Any:
        # bool is an int to Python: `hour = true` would otherwise be 01:00.
        if isinstance(v, bool):
            raise ValueError(f"{str(v).lower()} is not a whole number")
        return v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        # The store's check, made here so the error names the config key instead of a traceback.
        return check_email(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v


#: What a user chooses for themselves (the web's delivery settings, `digest users add`) too.
_USER_SETTINGS = ("name", "timezone", "hour", "weekday", "show_updates", "send_empty")


class TagSettings(_Section):
    name: str
    query: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _clean_name(v, "a tag name")


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
    # Secrets: environment only (DIGEST_SMTP_PASSWORD, DIGEST_SECRET_KEY, DIGEST_OPENREVIEW_PASSWORD).
    smtp_password: SecretStr | None = None
    secret_key: SecretStr | None = None
    openreview_password: SecretStr | None = None
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


#: Where people put secrets in the file (or in DIGEST_SMTP__PASSWORD), and the variable to use instead.
_SECRET_KEYS = {("smtp", "password"): "DIGEST_SMTP_PASSWORD", (None, "smtp_password"): "DIGEST_SMTP_PASSWORD",
                (None, "secret_key"): "DIGEST_SECRET_KEY", ("web", "secret_key"): "DIGEST_SECRET_KEY",
                (None, "openreview_password"): "DIGEST_OPENREVIEW_PASSWORD",
                ("fetch", "openreview_password"): "DIGEST_OPENREVIEW_PASSWORD"}
#: Settings fields that are not file keys, so never suggested for a misspelt one.
_NOT_FILE_KEYS = {"smtp_password", "secret_key", "openreview_password", "config_path"}
_ENV_PREFIX = "DIGEST_"
_SQLITE_FILE_RE = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?$")


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read the TOML file (if any) and apply environment overrides; ConfigError on any problem."""
    raw: dict[str, Any] = {}
    chosen = path or os.environ.get("DIGEST_CONFIG")
    where = str(chosen) if chosen else None
    if chosen:
        raw = _read_file(Path(chosen))
    _check_environment_sections()
    try:
        settings = Settings(**raw)
    except SettingsError as exc:  # an environment value pydantic-settings could not even decode
        raise _environment_error(exc) from None
    except ValidationError as exc:
        raise validation_error(exc, raw, where) from None
    _check_unique(settings, where)
    _check_servers(settings, where)
    return settings


def _read_file(p: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(p)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(p)) from None
    except OSError as exc:  # a directory, no permission...
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=str(p)) from None
    for (section, key), env in _SECRET_KEYS.items():
        holder = raw.get(section, {}) if section else raw
        if isinstance(holder, dict) and key in holder:
            raise ConfigError(f"secrets are not read from the file; set {env} in the environment instead",
                              path=str(p), key=f"{section}.{key}" if section else key)
    raw["config_path"] = p
    # Paths in the file are relative to the file (data_dir, a SQLite URL, [delivery] maildir), so the
    # service finds the same database and Maildir whatever its working directory (systemd starts it
    # in /). Paths from the environment stay relative to it.
    if isinstance(raw.get("data_dir"), str) and not Path(raw["data_dir"]).is_absolute():
        raw["data_dir"] = (p.parent / raw["data_dir"]).resolve()
    database = raw.get("database")
    if isinstance(database, dict) and isinstance(database.get("url"), str):
        database["url"] = _anchor_sqlite(database["url"], p.parent)
    delivery = raw.get("delivery")
    if isinstance(delivery, dict) and isinstance(delivery.get("maildir"), str) and not Path(delivery["maildir"]).is_absolute():
        delivery["maildir"] = (p.parent / delivery["maildir"]).resolve()
    return raw


def _anchor_sqlite(url: str, base: Path) -> str:
    """``sqlite:///rel/x.db`` -> ``sqlite:////<base>/rel/x.db``; any other URL unchanged."""
    m = _SQLITE_FILE_RE.match(url)
    if not m:
        return url
    db = m.group("path")
    if not db or db == ":memory:" or db.startswith("file:") or Path(db).is_absolute():
        return url
    return f"{m.group('scheme')}{(base / db).resolve().as_posix()}{m.group('query') or ''}"


# --- errors that say where and what ----------------------------------------------------------------


def validation_error(exc: ValidationError, raw: dict[str, Any], file: str | None,
                     model: type[BaseModel] | None = None) -> ConfigError:
    """The first problem as one line naming the source (file or variable), key and item; a count of the rest."""
    errors = exc.errors()
    err = errors[0]
    loc = tuple(err["loc"])
    env = _environment_source(loc)
    reason = _reason(err, loc, model or Settings)
    subject = None if env else _subject(raw, loc)
    if subject and subject not in reason:
        reason = f"{subject}: {reason}"
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ConfigError(reason, path=f"environment variable {env}" if env else file,
                       key=".".join(str(x) for x in loc) or None)


def _reason(err: Any, loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    last = str(loc[-1]) if loc else ""
    if err["type"] == "extra_forbidden":
        section = loc[0] if len(loc) == 2 and isinstance(loc[0], str) else None
        secret_env = _SECRET_KEYS.get((section, last)) if len(loc) <= 2 else None
        if secret_env:
            return f"not a setting; the secret goes in the environment variable {secret_env}"
        close = difflib.get_close_matches(last, [k for k in _known_keys(loc[:-1], model) if k != last], n=1)
        return f"unknown key {last!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if err["type"] == "missing":
        return f"{last!r} is required"
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "literal_error":  # "Input should be 'daily' or 'weekly'": say what was written
        reason = f"{err['input']!r}: {reason[0].lower()}{reason[1:]}"
    return reason


def _known_keys(loc: tuple[Any, ...], model: type[BaseModel]) -> list[str]:
    """The keys valid in the table at ``loc`` of ``model`` (list indexes skipped), for "did you mean"."""
    table: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = table.model_fields.get(part)
        table = _model_of(field.annotation) if field is not None else None
        if table is None:
            return []
    return [f.alias or n for n, f in table.model_fields.items() if n not in _NOT_FILE_KEYS]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _subject(raw: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    """"feed 'arxiv-cs'", "user 'ada@…'", "subscription 'ada@…/x'" or "tag 't'" for an error at ``loc``."""
    if len(loc) < 2 or not isinstance(loc[1], int):
        return None
    item = _item(raw.get(str(loc[0])), loc[1])
    if loc[0] == "feeds" and isinstance(item.get("name"), str):
        return f"feed {item['name']!r}"
    if loc[0] == "tags" and isinstance(item.get("name"), str):
        return f"tag {item['name']!r}"
    if loc[0] != "users" or not isinstance(item.get("email"), str):
        return None
    if len(loc) >= 4 and loc[2] == "subscriptions" and isinstance(loc[3], int):
        sub = _item(item.get("subscriptions"), loc[3])
        if isinstance(sub.get("name"), str):
            return f"subscription '{item['email']}/{sub['name']}'"
    return f"user {item['email']!r}"


def _item(items: Any, index: int) -> dict[str, Any]:
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], dict):
        return items[index]
    return {}


def _environment_source(loc: tuple[Any, ...]) -> str | None:
    """The DIGEST_… variable that set the value at ``loc`` (or a table or list holding it), if any."""
    names = {name.upper(): name for name in os.environ}
    for depth in range(len(loc), 0, -1):
        if any(isinstance(part, int) for part in loc[:depth]):
            continue  # a list item comes from its list's variable (DIGEST_FEEDS='[...]')
        candidate = _ENV_PREFIX + "__".join(str(part) for part in loc[:depth]).upper()
        if candidate in names:
            return names[candidate]
    return None


def _check_environment_sections() -> None:
    """A ``DIGEST_<SECTION>__<KEY>`` variable whose section does not exist is an error, as a misspelt
    key is: pydantic-settings would ignore it, and the service would run on defaults (a database URL
    in ``DIGEST_DATABSE__URL`` leaves it on a fresh SQLite file)."""
    sections = [name for name in Settings.model_fields if name not in _NOT_FILE_KEYS]
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(_ENV_PREFIX) or "__" not in upper:
            continue
        section = upper[len(_ENV_PREFIX):].split("__", 1)[0].lower()
        if section not in sections:
            close = difflib.get_close_matches(section, sections, n=1)
            hint = f" (did you mean {_ENV_PREFIX}{close[0].upper()}__...?)" if close else ""
            raise ConfigError(f"unknown section {section!r}{hint}", path=f"environment variable {name}")


def _environment_error(exc: SettingsError) -> ConfigError:
    m = re.search(r'field "([^"]+)"', str(exc))
    field = m.group(1) if m else ""
    prefix = _ENV_PREFIX + field.upper()
    names = sorted(n for n in os.environ if n.upper() == prefix or n.upper().startswith(prefix + "__")) or [prefix]
    return ConfigError("not valid JSON; a list or table from the environment is JSON, e.g. '[\"a\", \"b\"]'",
                       path=f"environment variable {', '.join(names)}", key=field or None)


def _check_unique(settings: Settings, file: str | None) -> None:
    """Names that the store keys rows by: a second entry would silently replace the first."""
    checks: list[tuple[list[str], str, str]] = [
        ([f.name for f in settings.feeds], "feeds.{}.name", "feed name {!r} is used twice"),
        ([u.email.lower() for u in settings.users], "users.{}.email",
         "user {!r} is listed twice (email addresses are compared ignoring case)"),
        ([t.name for t in settings.tags], "tags.{}.name", "tag name {!r} is used twice"),
    ]
    for i, user in enumerate(settings.users):
        checks.append(([s.name for s in user.subscriptions], f"users.{i}.subscriptions.{{}}.name",
                       f"user {user.email!r} has two subscriptions named {{!r}}"))
    for names, key, message in checks:
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise ConfigError(message.format(name), path=file, key=key.format(index))
            seen.add(name)


def _check_servers(settings: Settings, file: str | None) -> None:
    # Checked here rather than in FeedSettings so a model built in code still reaches
    # sources.feed_url, which refuses it there too (for feeds that never went through a file).
    for i, feed in enumerate(settings.feeds):
        if feed.server and feed.server.lower() not in ("biorxiv", "medrxiv"):
            raise ConfigError(f"feed {feed.name!r}: server must be biorxiv or medrxiv, not {feed.server!r}",
                              path=file, key=f"feeds.{i}.server")
