"""The SQLite thread recorder the GUI tests rely on sees statements on the GUI thread and elsewhere."""

from __future__ import annotations

import threading

from spark_trainer.store import projects
from tests.app.sqlite_threads import SqliteThreadRecorder


def test_the_recorder_tells_gui_thread_statements_from_pool_ones(store) -> None:
    recorder = SqliteThreadRecorder(store).install()
    try:
        worker = threading.Thread(target=lambda: projects.create(store, "from-a-thread"), name="pool-like")
        worker.start()
        worker.join()
        assert recorder.calls and not recorder.gui_calls
        projects.list_all(store)  # on this (the GUI) thread
        assert any("FROM projects" in c.sql for c in recorder.gui_calls)
        assert "test_sqlite_threads.py" in recorder.gui_calls[0].stack
    finally:
        recorder.uninstall()
    before = len(recorder.calls)
    projects.list_all(store)
    assert len(recorder.calls) == before  # uninstalled: nothing more is recorded
