"""Saving queries: the checks and the one subscribe function the CLI, the web and the config share.

A query is checked with the matcher's :func:`~digest.match.score.validate_for_save` against the
stored corpus statistics, so a query that can match nothing or nearly everything is refused with a
reason before it is saved (issue #3). A config query stored unchanged is not estimated again: the
corpus grows, and an unchanged config must keep applying.

Public: :func:`check_query`, :func:`subscribe`, :func:`check_config`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from digest.config import Settings
from digest.errors import ConfigError, QueryError
from digest.match.run import load_stats
from digest.match.stats import CorpusStats
from digest.match.validate import validate_for_save
from digest.models import Subscription
from digest.store.users import normalize_email, renamed_config_alerts


def check_query(store: Any, text: str, *, stats: CorpusStats | None = None, feeds: Iterable[str] = (),
                breadth: bool = True) -> None:
    """Raise QueryError (with its column) when ``text`` should not be saved; ``feeds`` are
    configured feed names a ``src:`` may name before they delivered anything; ``breadth=False``
    for a query stored before unchanged (validate_for_save)."""
    validate_for_save(text, stats if stats is not None else load_stats(store), sources=feeds, breadth=breadth)


def subscribe(store: Any, user: str | int, name: str, *, query: str | None = None, tag: str | None = None,
              user_tag: str | None = None, trending: bool = False, every: str = "daily", channel: str = "both",
              threshold: float | None = None, origin: str = "cli") -> Subscription:
    """Save a subscription of exactly one kind: a query, a topic tag, a user tag, or trending."""
    query, tag, user_tag = (v.strip() if v is not None else None for v in (query, tag, user_tag))
    chosen = [k for k, v in (("query", query), ("tag", tag), ("user-tag", user_tag), ("trending", trending)) if v]
    if len(chosen) != 1:
        raise ValueError("subscribe to exactly one of: a query, --tag, --user-tag or --trending")
    kind = chosen[0]
    text = ""
    if kind == "query":
        assert query is not None
        check_query(store, query)
        text = query
    elif kind == "tag":
        assert tag is not None
        text = store.get_tag(tag).name  # NotFoundError for an unknown tag
    elif kind == "user-tag":
        assert user_tag is not None
        text = user_tag
    return store.add_subscription(user, name, kind=kind, query=text, every=every, channel=channel,
                                  threshold=threshold, origin=origin)


def check_config(settings: Settings, store: Any) -> None:
    """Every configured subscription and tag query must be savable; ConfigError names the key."""
    checks = [(sub.query, f"users.{i}.subscriptions.{j}.query")
              for i, user in enumerate(settings.users) for j, sub in enumerate(user.subscriptions)]
    checks += [(tag.query, f"tags.{i}.query") for i, tag in enumerate(settings.tags)]
    check_queries(store, checks, path=str(settings.config_path) if settings.config_path else None,
                  feeds=[f.name for f in settings.feeds], unchanged=_stored_unchanged(settings, store))


def _stored_unchanged(settings: Settings, store: Any) -> set[str]:
    """Keys of the config queries stored as they are: the user's config alert of that name (or the
    one the file renamed to it, which keeps its row) or the tag of that name, with the same query."""
    alerts: dict[str, dict[str, str]] = {}
    for sub in store.list_subscriptions(kinds=["query"]):
        if sub.origin == "config":
            alerts.setdefault(sub.user_email, {})[sub.name] = sub.query
    unchanged = set()
    for i, user in enumerate(settings.users):
        stored = alerts.get(normalize_email(user.email), {})
        renamed = renamed_config_alerts(stored, {sub.name: sub.query for sub in user.subscriptions})
        unchanged |= {f"users.{i}.subscriptions.{j}.query" for j, sub in enumerate(user.subscriptions)
                      if stored.get(renamed.get(sub.name, sub.name)) == sub.query}
    tags = {tag.name: tag.query for tag in store.list_tags()}
    unchanged |= {f"tags.{i}.query" for i, tag in enumerate(settings.tags) if tags.get(tag.name) == tag.query}
    return unchanged


def check_queries(store: Any, checks: Iterable[tuple[str, str]], *, path: str | None,
                  feeds: Iterable[str] = (), unchanged: Collection[str] = ()) -> None:
    """Each ``(query, key)`` of a file (the config, an import) must be savable: ConfigError naming the
    file, the key and the column otherwise. One corpus statistics load for all of them. The keys in
    ``unchanged`` hold queries stored before as they are: not estimated again (validate_for_save)."""
    stats = load_stats(store)
    feeds = list(feeds)
    for query, key in checks:
        try:
            check_query(store, query, stats=stats, feeds=feeds, breadth=key not in unchanged)
        except QueryError as exc:
            raise ConfigError(f"{exc.reason} at column {exc.column} of {query!r}", path=path, key=key) from None


_SHORT = {"title": "ti", "abstract": "abs", "tldr": "tldr", "keywords": "kw", "authors": "au",
          "categories": "cat", "sources": "src", "ids": "id"}


def render(text: str) -> str:
    """The query as the matcher understood it: explicit AND/OR/NOT and parentheses, fields, each
    word as normalised (``~N`` for fuzzy tolerance, ``*`` for prefixes). QueryError when invalid."""
    from digest.match.query import DEFAULT_FIELDS, And, MetaClause, Node, Not, Or, TextClause, parse

    def word(w: Any) -> str:
        return f"{w.form}*" if w.prefix else f"{w.form}~{w.dist}" if w.dist else w.form

    def node(n: Node, top: bool = False) -> str:
        if isinstance(n, TextClause):
            body = " ".join(word(w) for w in n.words)
            body = f'"{body}"' if n.quoted or len(n.words) > 1 else body
            if tuple(n.fields) == tuple(DEFAULT_FIELDS):
                return body
            return "|".join(_SHORT.get(f, f) for f in n.fields) + ":" + body
        if isinstance(n, MetaClause):
            given = " ".join(g if len(g) > 1 else f"{g}." for g in n.givens)
            value = f"{n.value}, {given}" if given else n.value
            value = f'"{value}"' if " " in value else value
            return f"{_SHORT.get(n.field, n.field)}:{value}{'*' if n.prefix else ''}"
        if isinstance(n, Not):
            return f"NOT {node(n.child)}"
        op = " AND " if isinstance(n, And) else " OR "
        assert isinstance(n, (And, Or))
        inner = op.join(node(c) for c in n.children)
        return inner if top else f"({inner})"

    return node(parse(text).root, top=True)
