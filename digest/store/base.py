"""Connection handling shared by every part of the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from digest.dates import utcnow

__all__ = ["MAX_ROW_ID", "StoreBase", "row_id", "utcnow"]

#: The largest id either database holds (64-bit integers): a larger number finds nothing, it is no overflow.
MAX_ROW_ID = 2**63 - 1


def row_id(ref: int | str) -> int | None:
    """A user's or subscription's reference as a number, or None when it is a name: ASCII digits
    only (``"²".isdigit()`` is true, and int() refuses it)."""
    if isinstance(ref, int):
        return ref
    text = ref.strip()
    return int(text) if text.isascii() and text.isdigit() else None


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
