"""The store: the only part of digest that talks to the database.

Public API: :class:`Store` (open it with :meth:`Store.open`) and :func:`utcnow`. Its methods are
grouped by concern in the mixins of this package (papers, feeds, users, matches, outbox, work,
used tokens, the search index);
callers use only ``Store``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from digest.errors import DigestError

from digest.store.base import utcnow
from digest.store.engine import make_engine, upgrade
from digest.store.feeds import FeedStore
from digest.store.matches import MatchStore
from digest.store.outbox import OutboxStore
from digest.store.papers import PaperStore
from digest.store.search_index import SearchIndexStore
from digest.store.trending import TrendingStore
from digest.store.used_tokens import UsedTokenStore
from digest.store.users import UserStore
from digest.store.work import WorkStore

__all__ = ["Store", "utcnow"]


class Store(PaperStore, FeedStore, UserStore, MatchStore, OutboxStore, TrendingStore, WorkStore, UsedTokenStore,
            SearchIndexStore):
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

    def backup(self, target: Path) -> int:
        """Copy a SQLite database, while it is in use, to the new file ``target``; its size in bytes.

        SQLite's online backup (https://www.sqlite.org/backup.html) in one step: the copy is the
        database as of one moment, committed data only, including what still sits in the WAL (a
        plain file copy of digest.db alone would miss it). Writers are not blocked in WAL mode.
        PostgreSQL has its own tools (pg_dump)."""
        if self.dialect != "sqlite":
            raise DigestError(f"backup copies SQLite databases; for {self.dialect} use its own tools (pg_dump)")
        target = Path(target)
        if target.exists():
            raise DigestError(f"{target}: exists; a backup goes to a new file")
        if not target.parent.is_dir():
            raise DigestError(f"{target}: no folder {target.parent}")
        partial = target.with_name(target.name + ".partial")
        try:
            with self.engine.connect() as conn:
                source: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
                copy = sqlite3.connect(partial)
                try:
                    source.backup(copy)  # all pages in one step: another writer cannot restart it
                finally:
                    copy.close()
            partial.replace(target)  # never a half-written file under the name asked for
        except (OSError, sqlite3.Error) as exc:
            partial.unlink(missing_ok=True)
            raise DigestError(f"{target}: backup failed: {exc}") from None
        return target.stat().st_size
