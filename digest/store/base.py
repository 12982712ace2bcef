"""Connection handling shared by every part of the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from digest.dates import utcnow

__all__ = ["StoreBase", "utcnow"]


class StoreBase:
    """Holds the engine. ``read()`` gives a deferred transaction, ``write()`` one that holds the
    write lock from its start (SQLite) so concurrent writers queue instead of failing."""

    engine: Engine

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn
