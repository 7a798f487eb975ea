"""Alembic environment: runs migrations on the engine the store hands over."""

from __future__ import annotations

from alembic import context

from spark_trainer.store.models import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    # Rebuilding a table (batch mode) drops the old one: with foreign keys on, that would cascade
    # into its children. The pragma only takes effect outside a transaction, so it goes to the
    # driver's connection (a SQLAlchemy execute would BEGIN first).
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys = OFF")
    # One transaction for the whole upgrade, begun before alembic looks (so it starts none of its own):
    # an upgrade stopped part-way (a full disk, a kill) leaves the database at the revision it had,
    # as the error then says. With a transaction per migration, a full disk at 0007 of 0012 left it
    # at 0006, newer than the backup and older than this code, under a message saying nothing was changed.
    with connection.begin():
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
    broken = raw.execute("PRAGMA foreign_key_check").fetchall()
    raw.execute("PRAGMA foreign_keys = ON")
    if broken:
        raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")
