"""Portable configuration: users, their subscriptions, labels and muted authors, and topic tags as
one TOML file (`digest export` / `digest import`).

The layout is the config file's own (``[[users]]`` with ``[[users.subscriptions]]``, ``[[tags]]``),
extended with what only the web or CLI can create (subscription kind and pause state, user labels,
muted authors), so an exported file also reads as a starting config. Importing is idempotent: users
and subscriptions are upserted by email and name, labels and tags by their keys. Labels naming a
paper the target database does not hold are skipped and counted.

Public: :func:`export_data`, :func:`dumps`, :func:`import_data`, :func:`loads`.
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomli_w

from digest.errors import ConfigError, NotFoundError

FORMAT_VERSION = 1


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}  # TOML has no null


def _author_name(key: str) -> str:
    """A name whose author key is ``key`` ("lecun y" -> "Y. lecun"), so muting round-trips. A
    surname of several words is hyphenated ("dupont martin j" -> "J. dupont-martin"): written with
    spaces, its last word alone would read back as the surname."""
    surname, _, initial = key.rpartition(" ")
    if surname and len(initial) == 1:
        return f"{initial.upper()}. {surname.replace(' ', '-')}"
    return key


def export_data(store: Any) -> dict[str, Any]:
    users = []
    for user in store.list_users():
        subs = [_drop_none({"name": s.name, "kind": s.kind, "query": s.query, "every": s.every,
                            "channel": s.channel, "threshold": s.threshold, "paused": s.paused})
                for s in store.list_subscriptions(user.id)]
        labels = []
        for tag, _count in store.user_tags(user.id):
            labels += [{"tag": tag, "paper": pid, "polarity": pol} for pid, pol in store.labels(user.id, tag)]
        users.append(_drop_none({
            "email": user.email, "name": user.name, "timezone": user.timezone, "hour": user.hour,
            "weekday": user.weekday, "active": user.active, "subscriptions": subs, "labels": labels,
            "muted_authors": sorted(store.muted_authors(user.id))}))
    tags = [{"name": t.name, "query": t.query} for t in store.list_tags() if t.query]
    return {"digest_export": FORMAT_VERSION, "users": users, "tags": tags}


def dumps(data: dict[str, Any]) -> str:
    return tomli_w.dumps(data)


def loads(text: str, *, path: str | None = None) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from None
    if not isinstance(data.get("users", []), list) or not isinstance(data.get("tags", []), list):
        raise ConfigError("expected [[users]] and [[tags]] tables", path=path)
    return data


def import_data(store: Any, data: dict[str, Any]) -> dict[str, int]:
    counts = {"users": 0, "subscriptions": 0, "labels": 0, "skipped_labels": 0, "muted_authors": 0, "tags": 0}
    for t in data.get("tags", []):
        store.upsert_tag(t["name"], t["query"], origin="import")
        counts["tags"] += 1
    for u in data.get("users", []):
        user = store.upsert_user(u["email"], name=u.get("name"), timezone=u.get("timezone", "UTC"),
                                 hour=int(u.get("hour", 7)), weekday=int(u.get("weekday", 0)), origin="import")
        if not u.get("active", True):
            store.set_user_active(user.id, False)
        counts["users"] += 1
        for s in u.get("subscriptions", []):
            store.add_subscription(user.id, s["name"], kind=s.get("kind", "query"), query=s.get("query", ""),
                                   every=s.get("every", "daily"), channel=s.get("channel", "both"),
                                   threshold=s.get("threshold"), paused=bool(s.get("paused", False)),
                                   origin="import")
            counts["subscriptions"] += 1
        for lab in u.get("labels", []):
            try:
                store.add_label(user.id, lab["tag"], lab["paper"], int(lab.get("polarity", 1)))
                counts["labels"] += 1
            except NotFoundError:
                counts["skipped_labels"] += 1
        for key in u.get("muted_authors", []):
            store.mute_author(user.id, _author_name(key))
            counts["muted_authors"] += 1
    return counts
