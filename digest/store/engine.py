"""Engine creation and migrations. SQLite gets WAL, a busy timeout and foreign keys; writers take
the write lock up front (BEGIN IMMEDIATE) so a read-then-write transaction never fails with
"database is locked" on lock upgrade (https://www.sqlite.org/lang_transaction.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from digest.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: How long a writer waits for another's write lock before "database is locked", unless the URL
#: says otherwise: ``sqlite:///digest.db?timeout=5`` (seconds, as the sqlite3 driver's own argument).
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Page cache per connection, in KiB (SQLite's default is 2,000 KiB). A 1,500-paper arXiv listing
#: dirties ~4 MB of pages; when they do not fit, SQLite spills them to the WAL in the middle of the
#: transaction and writes some twice (https://www.sqlite.org/pragma.html#pragma_cache_size). The
#: cache is allocated as pages are used, so idle connections do not hold it.
SQLITE_CACHE_KIB = 32_768
#: WAL frames before a commit runs a checkpoint (SQLite's default is 1,000 = 4 MB, which one large
#: listing crosses on its own). A checkpoint copies every page changed since the last one into the
#: database file and syncs it; with synchronous=NORMAL that is the only fsync WAL mode does
#: (https://www.sqlite.org/wal.html#ckpt). Fewer, larger checkpoints write each hot page (index
#: interiors, the table's right edge) once per checkpoint instead of once per listing.
SQLITE_WAL_AUTOCHECKPOINT = 8_192
#: After a checkpoint resets the WAL, truncate the file to this size so the disk space it took
#: at its largest is given back (https://www.sqlite.org/pragma.html#pragma_journal_size_limit).
SQLITE_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Run on every new SQLite connection, in this order, after its busy timeout (the ingest benchmark's
#: raw baseline runs them too).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",  # safe with WAL: a commit is durable once a checkpoint syncs it
    f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}",
    f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}",
    f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}",
    "PRAGMA temp_store=MEMORY",  # sorter and IN-list temporaries of the batch lookups: RAM, not temp files
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise ConfigError(f"database url is not valid: {exc}", key="database.url") from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: Any, **kwargs: Any) -> Engine:
    db = url.database
    if db and db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None hands transaction control to us (the pysqlite driver's own BEGIN
    # handling is deferred and implicit); see SQLAlchemy's "Serializable isolation / Savepoints" recipe.
    busy_ms = _busy_timeout_ms(url)
    url = url.difference_update_query(["timeout"])
    engine = create_engine(url, connect_args={"isolation_level": None, "check_same_thread": False,
                                              "timeout": busy_ms / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in (f"PRAGMA busy_timeout={busy_ms}", *SQLITE_PRAGMAS):
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _busy_timeout_ms(url: Any) -> int:
    """The URL's ``timeout`` query parameter (seconds, 0-3600) in milliseconds, else the default."""
    raw = url.query.get("timeout")
    if raw is None:
        return SQLITE_BUSY_TIMEOUT_MS
    try:
        seconds = float(raw if isinstance(raw, str) else raw[-1])
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds <= 3600:  # also refuses nan
        raise ConfigError(f"database url: timeout={raw!s} is not a number of seconds from 0 to 3600",
                          key="database.url")
    return round(seconds * 1000)


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or migrate the database to the newest schema (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
