"""Portable configuration: users, their subscriptions, labels and muted authors, and topic tags as
one TOML file (`digest export` / `digest import`).

The layout is the config file's own (``[[users]]`` with ``[[users.subscriptions]]``, ``[[tags]]``),
extended with what only the web or CLI can create (subscription kind and pause state, user labels,
muted authors). An import is checked whole first, with the config's own rules and query checks, so a
file with an error changes nothing. Importing is idempotent: users and subscriptions are upserted by
email and name, labels and tags by their keys. Labels naming a paper the target database does not
hold are skipped and counted.

Public: :func:`export_data`, :func:`dumps`, :func:`import_data`, :func:`loads`.
"""

from __future__ import annotations

import tomllib
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from digest.config import SubscriptionSettings, TagSettings, UserSettings, validation_error
from digest.errors import ConfigError, NotFoundError
from digest.ids import is_arxiv_category
from digest.text import mute_name

FORMAT_VERSION = 1


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}  # TOML has no null


def export_data(store: Any) -> dict[str, Any]:
    users = []
    for user in store.list_users():
        subs = [_drop_none({"name": s.name, "kind": s.kind, "query": s.query, "every": s.every,
                            "channel": s.channel, "threshold": s.threshold, "paused": s.paused})
                for s in store.list_subscriptions(user.id)]
        labels = [{"tag": tag, "paper": pid, "polarity": pol} for tag, pid, pol in store.all_labels(user.id)]
        users.append(_drop_none({
            "email": user.email, "name": user.name, "timezone": user.timezone, "hour": user.hour,
            "weekday": user.weekday, "show_updates": user.show_updates, "send_empty": user.send_empty,
            "active": user.active, "unsubscribed": user.unsubscribed or None, "subscriptions": subs, "labels": labels,
            "muted_authors": sorted(store.muted_authors(user.id))}))
    # Topic tags only: the categories and keywords sources gave are tags the target makes itself.
    tags = [{"name": t.name, "query": t.query} for t in store.list_tags() if t.query and t.origin != "source"]
    return {"digest_export": FORMAT_VERSION, "users": users, "tags": tags}


def dumps(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data)


def loads(text: str, *, path: str | None = None) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None


class _Subscription(SubscriptionSettings):
    kind: Literal["query", "tag", "user-tag", "trending"] = "query"
    query: str = ""  # a trending subscription has none
    paused: bool = False

    @model_validator(mode="after")
    def _needs_query(self) -> "_Subscription":
        if self.kind != "trending" and not self.query.strip():
            raise ValueError(f"a {self.kind} subscription needs 'query'")
        return self


class _Label(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str
    paper: str
    polarity: Literal[1, -1] = 1


class _User(UserSettings):
    active: bool = True
    unsubscribed: bool = False
    subscriptions: list[_Subscription] = Field(default_factory=list)  # type: ignore[assignment]
    labels: list[_Label] = Field(default_factory=list)
    muted_authors: list[str] = Field(default_factory=list)


class _File(BaseModel):
    """What `digest export` writes: the config's [[users]] and [[tags]], plus what only the web or
    CLI creates. Checked whole, as the config is, before anything is stored."""

    model_config = ConfigDict(extra="forbid")
    digest_export: int = Field(FORMAT_VERSION, ge=1, le=FORMAT_VERSION)  # a newer format is not misread
    users: list[_User] = Field(default_factory=list)
    tags: list[TagSettings] = Field(default_factory=list)


def import_data(store: Any, data: dict[str, Any], *, path: str | None = None) -> dict[str, int]:
    """Store what ``data`` (as :func:`loads` read it) holds. Every value and query is checked first,
    so a file with an error changes nothing; ConfigError names the key and the user or subscription."""
    from digest.match.tags import apply_tags, changed_tags

    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, path, _File) from None
    _check_queries(store, parsed, path)
    counts = {"users": 0, "subscriptions": 0, "labels": 0, "skipped_labels": 0, "muted_authors": 0, "tags": 0}
    retag = changed_tags(store, parsed.tags)
    for t in parsed.tags:
        store.upsert_tag(t.name, t.query, origin="import")
        counts["tags"] += 1
    if retag:  # as re-applying the config does: the stored papers get the new query's tags
        apply_tags(store, retag)
    for u in parsed.users:
        # What the file leaves out stays as the target has it (as for the config).
        user = store.upsert_user(u.email, origin="import", **u.given_settings())
        if u.unsubscribed:  # they stopped their digests themselves: `digest init` must not restart them
            store.unsubscribe_user(user.id)
        elif not u.active:
            store.set_user_active(user.id, False)
        counts["users"] += 1
        for s in u.subscriptions:
            store.add_subscription(user.id, s.name, kind=s.kind, query=s.query.strip(), every=s.every,
                                   channel=s.channel, threshold=s.threshold, origin="import", replace=True,
                                   paused=s.paused if "paused" in s.model_fields_set else None)
            counts["subscriptions"] += 1
        for lab in u.labels:
            try:
                store.add_label(user.id, lab.tag, lab.paper, lab.polarity)
                counts["labels"] += 1
            except NotFoundError:
                counts["skipped_labels"] += 1
        for key in u.muted_authors:
            store.mute_author(user.id, mute_name(key))
            counts["muted_authors"] += 1
    return counts


def _check_queries(store: Any, parsed: _File, path: str | None) -> None:
    """Tag and query-subscription queries as saving them checks them (a ``src:`` may name a feed
    this installation is configured to poll, as in the config); a tag subscription names a tag of
    the file or of the database, or an arXiv category (a tag the sources give, which the export
    leaves out and a fresh database has not made yet)."""
    from digest.match.saved import check_queries

    checks = [(t.query, f"tags.{i}.query") for i, t in enumerate(parsed.tags)]
    checks += [(s.query, f"users.{i}.subscriptions.{j}.query") for i, u in enumerate(parsed.users)
               for j, s in enumerate(u.subscriptions) if s.kind == "query"]
    # The feeds `digest init` applied from the config: the enabled ones.
    check_queries(store, checks, path=path, feeds=[f.name for f in store.feed_states()])
    known = {t.name for t in parsed.tags} | {t.name for t in store.list_tags()}
    for i, u in enumerate(parsed.users):
        for j, s in enumerate(u.subscriptions):
            if s.kind == "tag" and s.query.strip() not in known and not is_arxiv_category(s.query.strip()):
                raise ConfigError(f"no tag {s.query.strip()!r}", path=path, key=f"users.{i}.subscriptions.{j}.query")
