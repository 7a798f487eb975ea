"""The SQLite engine: WAL, foreign keys and a busy timeout on every connection.

pysqlite's own transaction handling is switched off so that we issue BEGIN ourselves: writers
take `BEGIN IMMEDIATE`, which makes a second writer wait on the busy timeout instead of failing
with "database is locked" when it tries to upgrade a read lock mid-transaction.
"""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_MS = 30_000
PAGE_SIZE = 16384
BEGIN_MODE = "spark_begin_mode"


def make_engine(db_path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS, *, frozen: bool = False) -> Engine:
    """An engine for the database file at `db_path`, with our pragmas on every connection; a write
    waits up to `busy_timeout_ms` for another process's write lock.

    `frozen` opens the file read-only as it stands (SQLite's `immutable`): no lock, no -shm or -wal, so
    it reads on a disk with no byte left, where WAL mode cannot even start a read (the -shm file it
    needs cannot grow). Only for that: a write there fails, and it would not see another process's.
    """
    # The file is opened by name, never through a URL: in `sqlite:///{path}` a `?` or `%20` in the
    # home's path is URL syntax, and a home named `h?x` opened the database `h` beside it (shared by
    # `h?y`). Without a URL SQLAlchemy would pick the in-memory pool: the file database's QueuePool is
    # named here. The frozen one needs SQLite's `file:` URI: its path goes in percent-encoded.
    path = os.path.abspath(db_path)
    timeout_s = busy_timeout_ms / 1000
    uri = f"{Path(path).as_uri()}?mode=ro&immutable=1"

    def _connect() -> sqlite3.Connection:
        if frozen:
            return sqlite3.connect(uri, uri=True, timeout=timeout_s, check_same_thread=False)
        return sqlite3.connect(path, timeout=timeout_s, check_same_thread=False)

    engine = create_engine("sqlite://", creator=_connect, poolclass=QueuePool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not frozen:
            # Only takes effect while the file is still empty (a new home): a packed metric block
            # (store/metric_packs.py) then spans a quarter of the overflow pages it needs at 4 KiB.
            cursor.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            # WAL is kept in the file: set only on a new home (or one an older version left otherwise).
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()
        # Names are compared in NFC (store/projects.same_name): one stored before names were
        # normalised may be NFD, and SQLite has no normalisation of its own.
        dbapi_conn.create_function("nfc", 1, _nfc, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _nfc(text: Any) -> Any:
    return unicodedata.normalize("NFC", text) if isinstance(text, str) else text


def writer(engine: Engine) -> Engine:
    """The same engine (and pool), beginning every transaction with BEGIN IMMEDIATE."""
    return engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})


def connect_read_only(db_path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection that can only read the database file at `db_path` (never creates it).

    Read-only needs SQLite's `file:` URI, where `?`, `#` and `%XX` are syntax: the path goes in
    percent-encoded (`as_uri`), or `file:/h?x/sparktrainer.db?mode=ro` opened (and created) `/h`.
    """
    return sqlite3.connect(f"{Path(os.path.abspath(db_path)).as_uri()}?mode=ro", uri=True)
