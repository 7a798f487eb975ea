"""The Settings page's Data home group: the database's size, what deleted runs left unused in it, and
Compact, which gives that back to the disk (refused in the banner while a run trains)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from spark_trainer.jobs import process  # noqa: E402
from spark_trainer.jobs.scheduler import make_picker  # noqa: E402
from spark_trainer.store import runs  # noqa: E402
from spark_trainer.store.entities import RunStatus  # noqa: E402
from tests.jobs.test_compact import _run_with_metrics  # noqa: E402


def _settings(qtbot, ctx, store):  # noqa: ANN001, ANN202 - Qt objects
    from app.views.settings_view import SettingsView

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    return view


def test_compact_gives_deleted_runs_space_back_and_says_how_much(qtbot, ctx, store):
    _run_with_metrics(store, 100)
    runs.delete(store, _run_with_metrics(store, 30000))
    view = _settings(qtbot, ctx, store)
    shown = view.database_size.text()
    assert "MiB of it unused (Compact gives it back to the disk)." in shown, shown
    assert view.compact_button.isEnabled()

    view.compact_button.click()
    assert view.database_size.text() == "Compacting…" and not view.compact_button.isEnabled()
    view.refresh()  # shown again meanwhile: no measure of a half-compacted database, no second Compact offered
    assert view.database_size.text() == "Compacting…" and not view.compact_button.isEnabled()
    qtbot.waitUntil(lambda: not view.busy(), timeout=30_000)
    assert view.banner.role == "ok" and view.banner.text().startswith("Compacted the database: "), view.banner.text()
    assert "given back to the disk)." in view.banner.text()
    assert "unused" not in view.database_size.text() and not view.compact_button.isEnabled()


def test_compact_is_refused_in_the_banner_while_a_run_trains(qtbot, ctx, store):
    training = _run_with_metrics(store, 100)
    runs.delete(store, _run_with_metrics(store, 30000))
    runs.claim(store, make_picker([], 4, False))
    runs.transition(store, training, RunStatus.RUNNING, "test worker started")
    me = process.identity(os.getpid())
    runs.update(store, training, pid=me.pid, pid_start_time=me.start_time)
    view = _settings(qtbot, ctx, store)
    view.compact_database()
    qtbot.waitUntil(lambda: not view.busy(), timeout=30_000)
    assert view.banner.role == "error"
    assert view.banner.text() == (f"Not compacted: run {training} is running; pause it in the Runs view or let it "
                                  "finish, then compact the database")
    assert "of it unused" in view.database_size.text() and view.compact_button.isEnabled()  # as it was
