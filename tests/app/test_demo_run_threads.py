"""The real window through a demo run: no SQLite statement on the GUI thread, and the status bar,
Runs table, run detail and welcome panel telling the same story at every moment."""

from __future__ import annotations

import re
import time

from PySide6.QtCore import Qt

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from tests.app.sqlite_threads import SqliteThreadRecorder

DEMO_STEPS = 12
STATUS_BAR = re.compile(r"(\d+) running · (\d+) queued")
WELCOME = re.compile(r"run (\d+) is (\w+)")


def sample_views(window) -> dict:
    """What the status bar, the Runs table, the run detail and the welcome panel say right now."""
    seen: dict = {"bar": window.run_status.text(), "welcome": window.views["projects"].welcome.status.text()}
    view = window.views.get("runs")
    if view is not None:
        from app.views.runs_view import COLUMNS

        status = COLUMNS.index("Status")  # after the Sweep column
        # The status word: the cell may go on with what a queued run waits for or a starting one does
        # ("running: loading the model"), which the badge and the welcome panel do not show.
        seen["table"] = {int(view.table.item(r, 1).text()): view.table.item(r, status).text().split(": ")[0]
                         for r in range(view.table.rowCount()) if view.table.item(r, 1) is not None}
        detail = view.detail
        seen["detail"] = (detail.run.id, detail.badge.text()) if detail.run is not None else None
    return seen


def disagreements(seen: dict) -> list[str]:
    problems = []
    bar = STATUS_BAR.fullmatch(seen["bar"])
    if bar is None:
        return [] if seen["bar"] == "Runs: reading…" else [f"status bar says {seen['bar']!r}"]
    running, queued = int(bar.group(1)), int(bar.group(2))
    welcome = WELCOME.search(seen["welcome"])
    table = seen.get("table")
    if table is None:  # the Runs view is not built yet: only the welcome panel to compare with
        if welcome and welcome.group(2) == "queued" and queued == 0:
            problems.append(f"welcome says {seen['welcome']!r}, status bar {seen['bar']!r}")
        return problems
    statuses = [RunStatus(s) for s in table.values()]
    counted = (sum(s.is_active for s in statuses), sum(s == RunStatus.QUEUED for s in statuses))
    if counted != (running, queued):
        problems.append(f"status bar {seen['bar']!r} but the table shows {table}")
    if seen["detail"] is not None:
        run_id, badge = seen["detail"]
        if table.get(run_id) != badge:
            problems.append(f"run detail badge {badge!r} but the table says {table.get(run_id)!r} for run {run_id}")
    if welcome and table.get(int(welcome.group(1))) != welcome.group(2):
        problems.append(f"welcome says {seen['welcome']!r} but the table says {table.get(int(welcome.group(1)))!r}")
    return problems


def test_demo_run_in_the_window_keeps_sqlite_off_the_gui_thread_and_the_views_agree(store, qsettings, qtbot):
    from app.main_window import MainWindow
    from app.views import NAV_VIEWS

    # From the window's construction on (the store itself was opened before): every statement, on which thread.
    recorder = SqliteThreadRecorder(store).install()
    try:
        window = MainWindow(store, qsettings, poll_gpus=False, restore_state=False)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        window.ctx.scheduler.start()  # as app.main does
        projects_view = window.views["projects"]
        panel = projects_view.welcome
        qtbot.waitUntil(lambda: projects_view.pages.currentWidget() is panel, timeout=15_000)
        panel.demo_steps = DEMO_STEPS
        qtbot.mouseClick(panel.demo_button, Qt.MouseButton.LeftButton)

        samples, problems, statuses_seen = 0, [], set()
        deadline = time.monotonic() + 300
        run_id = None
        while time.monotonic() < deadline:
            qtbot.wait(40)
            seen = sample_views(window)
            samples += 1
            problems += [f"sample {samples}: {p}" for p in disagreements(seen)]
            if run_id is None and panel.demo_run_id is not None:
                run_id = panel.demo_run_id
            if run_id is not None and seen.get("table", {}).get(run_id):
                statuses_seen.add(seen["table"][run_id])
                if seen["table"][run_id] in ("completed", "failed", "interrupted"):
                    break
        assert run_id is not None, f"the demo was not built: {panel.banner.text()} {panel.status.text()}"
        assert not problems, "\n".join(problems[:5])
        assert window.current_view_name() == "runs"
        assert statuses_seen >= {"running", "completed"}, statuses_seen
        assert samples > 50
        detail = window.views["runs"].detail
        qtbot.waitUntil(lambda: detail.charts.point_count("loss") == DEMO_STEPS, timeout=20_000)
        qtbot.waitUntil(lambda: detail.checkpoints.rowCount() >= 1, timeout=10_000)
        assert disagreements(sample_views(window)) == []
        assert f"run {run_id} is completed" in panel.status.text()

        # Compare (the run against itself is enough to draw its curves and its settings).
        window.ctx.navigate("runs", [run_id])
        compare = window.views["runs"].compare_page
        qtbot.waitUntil(lambda: compare.charts.point_count(f"run {run_id} loss") == DEMO_STEPS, timeout=20_000)
        qtbot.waitUntil(lambda: "same settings" in compare.diff_note.text(), timeout=10_000)

        # The leaderboard, through the navigation list.
        window.nav.setCurrentRow([v.name for v in NAV_VIEWS].index("leaderboard"))
        board = window.views["leaderboard"]
        qtbot.waitUntil(lambda: not board.busy() and board.table.rowCount() >= 1, timeout=20_000)
        assert board.table.item(0, 1).text() == str(run_id)
        window.nav.setCurrentRow([v.name for v in NAV_VIEWS].index("projects"))
        qtbot.waitUntil(lambda: projects_view.row_texts() and projects_view.row_texts()[0][0] == "demo")
    finally:
        recorder.uninstall()
        for run in runs.list_all(store):
            if run.status.is_active or run.status == RunStatus.QUEUED:
                from spark_trainer.jobs import control

                control.cancel(store, run.id, grace_s=5)
    assert len(recorder.calls) > 100, "the recorder saw the pool's statements"
    assert not recorder.gui_calls, recorder.report()
