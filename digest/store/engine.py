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
SQLITE_BUSY_TIMEOUT_MS = 30_000


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
    engine = create_engine(url, connect_args={"isolation_level": None, "check_same_thread": False,
                                              "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: durable up to the last checkpoint
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


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
