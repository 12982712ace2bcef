"""Alembic environment: runs on the engine digest hands over (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from digest.store.schema import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table by copying it and dropping the original; with foreign keys on,
        # that DROP deletes every row that references the table (ON DELETE CASCADE), e.g. all vias,
        # events and matches when `papers` is rebuilt. SQLite's procedure for schema changes turns
        # them off around the change (https://www.sqlite.org/lang_altertable.html#otheralter); the
        # pragma is a no-op inside a transaction, so it goes to the driver before SQLAlchemy begins one.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite cannot ALTER most things in place: batch mode copies and swaps tables.
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            before = context.get_context().get_current_heads()
            context.run_migrations()
            # Checked only when a migration ran: it reads every referencing table (seconds at a
            # million papers), and most opens find the schema current.
            if sqlite and context.get_context().get_current_heads() != before:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:  # rolled back: a migration must leave every reference intact
                    raise RuntimeError(f"migration left a dangling reference in table {broken[0]}")
        connection.commit()
    finally:
        if sqlite:  # the connection goes back to the pool: as every other connection has it
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
