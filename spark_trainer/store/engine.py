"""The SQLite engine: WAL, foreign keys and a busy timeout on every connection.

pysqlite's own transaction handling is switched off so that we issue BEGIN ourselves: writers
take `BEGIN IMMEDIATE`, which makes a second writer wait on the busy timeout instead of failing
with "database is locked" when it tries to upgrade a read lock mid-transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

BUSY_TIMEOUT_MS = 30_000
PAGE_SIZE = 16384
BEGIN_MODE = "spark_begin_mode"


def make_engine(db_path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine for the database file at `db_path`, with our pragmas on every connection; a write
    waits up to `busy_timeout_ms` for another process's write lock."""
    engine = create_engine(
        f"sqlite:///{db_path}",
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Only takes effect while the file is still empty (a new home): a packed metric block
        # (store/metric_packs.py) then spans a quarter of the overflow pages it needs at 4 KiB.
        cursor.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (and pool), beginning every transaction with BEGIN IMMEDIATE."""
    return engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
