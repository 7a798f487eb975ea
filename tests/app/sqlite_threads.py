"""Record the thread of every SQLite statement the app runs, to prove the GUI thread runs none.

Connections already in the store's pool get a trace callback when they are checked out (SQLAlchemy's
`checkout` pool event); connections opened later, by the pool or by anything calling
`sqlite3.connect`, get it when they are made. SQLite calls the trace callback on the thread that
executes the statement.
"""

from __future__ import annotations

import sqlite3
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from spark_trainer.store.store import Store


def _our_frames(keep: int = 10) -> str:
    """The calling frames outside installed packages (app, core, tests), innermost last."""
    frames = [f for f in traceback.extract_stack()[:-2] if "site-packages" not in f.filename
              and "<" not in f.filename and "/lib/python" not in f.filename]
    return "".join(traceback.format_list(frames[-keep:])) or "(no frame of ours)"


@dataclass
class SqliteCall:
    thread: str
    sql: str
    stack: str  # where the GUI-thread call came from (empty for other threads)


@dataclass
class SqliteThreadRecorder:
    store: Store
    gui_thread: int = field(default_factory=threading.get_ident)
    calls: list[SqliteCall] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._connect = sqlite3.connect
        self._active = False

    @property
    def gui_calls(self) -> list[SqliteCall]:
        with self._lock:
            return [c for c in self.calls if c.stack]

    def _trace(self, sql: str) -> None:
        if not self._active:  # uninstalled: pooled connections keep the callback, it records nothing
            return
        on_gui = threading.get_ident() == self.gui_thread
        stack = _our_frames() if on_gui else ""
        with self._lock:
            self.calls.append(SqliteCall(threading.current_thread().name, sql, stack))

    def _on_checkout(self, dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_trace_callback(self._trace)

    def _connect_traced(self, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = self._connect(*args, **kwargs)
        conn.set_trace_callback(self._trace)
        return conn

    def install(self) -> SqliteThreadRecorder:
        self._active = True
        event.listen(self.store.engine, "checkout", self._on_checkout)
        sqlite3.connect = self._connect_traced  # type: ignore[assignment]
        return self

    def uninstall(self) -> None:
        self._active = False
        event.remove(self.store.engine, "checkout", self._on_checkout)
        sqlite3.connect = self._connect  # type: ignore[assignment]

    def report(self, limit: int = 5) -> str:
        """The GUI-thread statements grouped by where they came from, for a failing assertion."""
        found = self.gui_calls
        origins: dict[str, list[str]] = {}
        for call in found:
            origins.setdefault(call.stack, []).append(call.sql.split("\n")[0])
        return f"{len(found)} SQLite statement(s) on the GUI thread, from {len(origins)} place(s):\n" + "\n".join(
            f"--- {len(sqls)} statement(s), first {sqls[0]!r}, from:\n{stack}"
            for stack, sqls in list(origins.items())[:limit])
