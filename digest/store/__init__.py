"""The store: the only part of digest that talks to the database.

Public API: :class:`Store` (open it with :meth:`Store.open`) and :func:`utcnow`. Its methods are
grouped by concern in the mixins of this package (papers, feeds, users, matches, outbox, work);
callers use only ``Store``.
"""

from __future__ import annotations

from sqlalchemy import Engine

from digest.store.base import utcnow
from digest.store.engine import make_engine, upgrade
from digest.store.feeds import FeedStore
from digest.store.matches import MatchStore
from digest.store.outbox import OutboxStore
from digest.store.papers import PaperStore
from digest.store.trending import TrendingStore
from digest.store.users import UserStore
from digest.store.work import WorkStore

__all__ = ["Store", "utcnow"]


class Store(PaperStore, FeedStore, UserStore, MatchStore, OutboxStore, TrendingStore, WorkStore):
    """Facade over every table; see the mixins for the methods."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> "Store":
        """Connect to ``url``; with ``migrate`` create or upgrade the schema first (idempotent)."""
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()
