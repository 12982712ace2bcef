"""Connection handling shared by every part of the store."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def gc_paused() -> Iterator[None]:
    """CPython's cycle collector off while the block runs (it runs again, as usual, afterwards).

    An ingest batch allocates tens of thousands of records, rows and tuples that all live until the
    batch ends and form no reference cycles, so the collector's passes over them only cost time:
    every 700 allocations a young-generation pass, and, as they pile up, full passes over the whole
    heap (https://docs.python.org/3/library/gc.html#gc.set_threshold); 12 us of the ~90 us per
    record of a snapshot import. Reference counting still frees everything as usual; a cycle made
    meanwhile is collected by the next pass after the block. If the collector was already off
    (the application turned it off, or another thread's block is running), it is left off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
