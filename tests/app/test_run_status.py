"""The status bar's run count says when the queue should end ("· ends about 03:40"), with the whole
estimate in its tooltip, as `spark-trainer queue show` says it."""

from __future__ import annotations

import pytest

from spark_trainer.store import queue_hold, settings
from tests.app.conftest import first_read_landed
from tests.app.model_sync import sync_model
from tests.app.queue_night import Estimates, at, night


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


@pytest.fixture
def night_window(store, qsettings, qtbot, monkeypatch, clock):
    """The window opened on a night of runs: what `estimate` was asked, and the runs' ids."""
    from app.main_window import MainWindow

    ids = night(store, monkeypatch)
    estimates = Estimates(monkeypatch)
    win = MainWindow(store, qsettings)
    win.ctx.model.queue_end.clock = lambda: clock[0]  # before its first tick
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    first_read_landed(qtbot, win.ctx)
    yield win, estimates, ids
    win.close()


def test_the_status_bar_says_when_the_queue_should_end(qtbot, night_window) -> None:
    window, _estimates, ids = night_window
    qtbot.waitUntil(lambda: "ends" in window.run_status.text(), timeout=10_000)
    assert window.run_status.text() == f"1 running · 3 queued · ends {at(1150)}"
    tip = window.run_status.toolTip()
    assert tip == (f"The queue should end {at(1150)} (estimated from earlier runs of the same experiment; "
                   f"run {ids['c']} has no earlier completed run of the same experiment, sweep or settings to measure: "
                   "not counted).")


def test_a_held_queue_ends_after_its_release(qtbot, night_window, store) -> None:
    window, _estimates, _ids = night_window
    queue_hold.hold(store)
    qtbot.waitUntil(lambda: "after release" in window.run_status.text(), timeout=10_000)
    assert window.run_status.text() == "1 running · 3 queued (queue held) · ends about 19 min after release"
    tip = window.run_status.toolTip()
    assert tip.startswith("The queue should end about 19 min after release (if released now; estimated from")
    assert "spark-trainer queue release" in tip


def test_the_estimate_is_made_again_only_when_the_queue_changes_or_every_30_s(qtbot, night_window, clock,
                                                                               store) -> None:
    window, estimates, ids = night_window
    qtbot.waitUntil(lambda: "ends" in window.run_status.text(), timeout=10_000)
    made = estimates.calls
    assert made == 1  # with the first read
    for _ in range(5):  # ticks, with nothing changed
        sync_model(qtbot, window.ctx)
    assert estimates.calls == made
    clock[0] += 31
    sync_model(qtbot, window.ctx)
    assert estimates.calls == made + 1
    queue_hold.hold(store)  # the queue changed: estimated again at once
    qtbot.waitUntil(lambda: "after release" in window.run_status.text(), timeout=10_000)
    assert estimates.calls == made + 2


def test_a_setting_the_estimate_reads_is_estimated_again_at_once_not_30_s_later(qtbot, night_window, store) -> None:
    """Max concurrent runs set in Settings, or by `spark-trainer settings set` in a terminal while the app is
    open, left the old end on the status bar until the next 30 s estimate."""
    window, estimates, _ids = night_window
    qtbot.waitUntil(lambda: "ends" in window.run_status.text(), timeout=10_000)
    made = estimates.calls
    settings.set_value(store, "max_concurrent_runs", 2)  # a and b start beside the active run: it ends last
    sync_model(qtbot, window.ctx)  # the read that sees the change
    sync_model(qtbot, window.ctx)  # the next one estimates; the clock has not moved
    assert estimates.calls == made + 1
    assert window.run_status.text() == f"1 running · 3 queued · ends {at(600)}"
    settings.set_value(store, "allow_gpu_sharing", True)  # it moves no end here (no GPUs), but is a change
    sync_model(qtbot, window.ctx)
    sync_model(qtbot, window.ctx)
    assert estimates.calls == made + 2
    for _ in range(3):  # nothing changed since: no estimate before the 30 s
        sync_model(qtbot, window.ctx)
    assert estimates.calls == made + 2


def test_nothing_queued_has_no_estimate(qtbot, window, store, monkeypatch) -> None:
    estimates = Estimates(monkeypatch)
    for _ in range(3):
        sync_model(qtbot, window.ctx)
    assert window.run_status.text() == "0 running · 0 queued" and window.run_status.toolTip() == ""
    assert estimates.calls == 0 and window.ctx.model.queue_end.current is None


def test_an_estimate_that_fails_shows_the_counts_and_polling_goes_on(qtbot, store, qsettings, monkeypatch,
                                                                     caplog) -> None:
    from app.main_window import MainWindow
    from spark_trainer.jobs import queue_eta

    night(store, monkeypatch)
    monkeypatch.setattr(queue_eta, "estimate", lambda _store: 1 / 0)
    win = MainWindow(store, qsettings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    first_read_landed(qtbot, win.ctx)
    sync_model(qtbot, win.ctx)
    assert win.run_status.text() == "1 running · 3 queued" and win.run_status.toolTip() == ""
    assert "the queue's end was not estimated" in caplog.text
    win.close()


def test_a_queue_not_estimated_says_why_in_the_tooltip_only() -> None:
    from app.model.reads import QueueEnd
    from app.run_status import run_status_text

    found = QueueEnd(None, "not estimated: run 4 has no earlier completed run of the same experiment, sweep or "
                     "settings to measure", held=False)
    text, tip = run_status_text(0, 1, False, found)
    assert text == "0 running · 1 queued"
    assert tip.startswith("The queue's end is not estimated: run 4 has no earlier")
    assert run_status_text(0, 0, False, found) == ("0 running · 0 queued", "")  # read before the queue emptied


def test_short_of_room_the_end_is_cut_not_the_counts_or_the_rest_of_the_bar(qtbot, night_window, store) -> None:
    """A held queue's end is long ("ends about 19 min after release"): in a narrow window with a long data
    home it ran under the GPU label, cut mid-word with no "…"."""
    window, _estimates, _ids = night_window
    queue_hold.hold(store)
    qtbot.waitUntil(lambda: "after release" in window.run_status.text(), timeout=10_000)
    window.home_status.setText("Data home: /home/alexandra/.local/share/SparkTrainer")
    window.resize(900, 600)
    qtbot.waitUntil(lambda: window.run_status.shown().endswith("…"), timeout=5_000)
    assert window.run_status.shown().startswith("1 running · 3 queued (queue held)")
    assert window.home_status.width() >= window.home_status.sizeHint().width()
    assert window.run_status.geometry().right() < window.gpu_status.geometry().left()
