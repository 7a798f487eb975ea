"""The run detail's action row wraps in a narrow window instead of squeezing its buttons' labels;
its actions follow the run; Playground opens the checkpoint selected (the last weights when none is)."""

from __future__ import annotations

from pathlib import Path


def test_actions_wrap_in_a_narrow_view_and_keep_their_labels_whole(store, ctx, qtbot) -> None:
    from app.views.run_detail_view import RunDetailView

    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    buttons = [view.cancel_button, view.pause_button, view.resume_button, view.extend_button,
               view.playground_button, view.clone_button, view.export_button, view.evaluate_button,
               view.delete_button]
    rows = {}
    for width in (640, 1600):
        view.resize(width, 600)
        view.show()
        qtbot.waitUntil(lambda w=width: view.width() == w)
        qtbot.wait(20)
        assert all(b.width() >= b.sizeHint().width() for b in buttons), [(b.text(), b.width()) for b in buttons]
        assert all(b.mapTo(view, b.rect().topRight()).x() < view.width() for b in buttons)  # none cut off
        centres = sorted(b.mapTo(view, b.rect().center()).y() for b in buttons)
        rows[width] = 1 + sum(1 for a, b in zip(centres, centres[1:], strict=False) if b - a > 10)  # lines of buttons
    assert rows[640] > 1 and rows[1600] == 1
    button, steps = (w.rect().translated(w.mapTo(view, w.rect().topLeft())) for w in (view.extend_button,
                                                                                       view.extend_steps))
    assert abs(button.center().y() - steps.center().y()) <= 2  # the pair stays together on one line


def test_a_long_heading_is_shortened_not_the_page_widened(store, ctx, qtbot) -> None:
    """A run of a sweep is headed by its experiment and swept values: with five or six of them the
    heading held the page wider than a 1024 px window (view 854 px) leaves it."""
    from app.views.run_detail_view import RunDetailView

    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    whole = "Run 12 · support-tickets-classifier-2026 · " + " ".join(f"setting_{i}=0.000{i}" for i in range(6))
    view.heading.setText(whole)
    view.resize(854, 600)
    view.show()
    qtbot.waitUntil(lambda: view.width() == 854)
    assert view.minimumSizeHint().width() <= 854
    assert view.heading.mapTo(view, view.heading.rect().topRight()).x() < view.width()
    assert view.heading.text() == whole and view.heading.shown().endswith("…")


def _cancelled_run(store):
    """A cancelled causal-LM run in project 'p' (it has nothing to show but its status)."""
    from spark_trainer.jobs import control
    from spark_trainer.store import experiments, projects, runs

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    return control.cancel(store, runs.create(store, exp.id).id)


def _page(store, ctx, qtbot, run):
    """The run page of `run`, shown and read (its badge says the run's status)."""
    from app.views.run_detail_view import RunDetailView

    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.badge.text() == run.status.value)
    return view


def test_a_run_deleted_by_another_process_leaves_no_action_to_click(store, ctx, qtbot) -> None:
    import subprocess

    from app.views.run_detail_view import RunDetailView
    from tests.conftest import spark_trainer_exe, subprocess_env

    run = _cancelled_run(store)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.badge.text() == "cancelled")
    assert view.resume_button.isEnabled() and view.delete_button.isEnabled()
    deleted = subprocess.run([spark_trainer_exe(), "--home", str(store.home.root), "run", "delete", str(run.id), "--yes"],
                             env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert deleted.returncode == 0, deleted.stderr
    qtbot.waitUntil(lambda: "no longer exists" in view.banner.text(), timeout=10_000)
    buttons = [view.cancel_button, view.pause_button, view.resume_button, view.extend_button,
               view.playground_button, view.clone_button, view.export_button, view.evaluate_button,
               view.delete_button]
    assert [b.text() for b in buttons if b.isEnabled()] == []
    view.stop()


def test_a_double_click_on_resume_resumes_once_without_an_error(store, ctx, qtbot) -> None:
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import runs

    run = _cancelled_run(store)
    ctx.scheduler.stop()  # the resumed run stays queued: this run has no model to train
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.badge.text() == "cancelled")
    view.resume_button.click()
    assert not view.resume_button.isEnabled()  # until the first click's resume has landed
    view.resume_button.click()
    qtbot.waitUntil(lambda: view.badge.text() == "queued", timeout=10_000)
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    assert view.banner.role != "error", view.banner.text()
    assert [e.reason for e in runs.events(store, run.id)].count("resume requested from the start (no checkpoint)") == 1
    assert view.cancel_button.isEnabled() and not view.resume_button.isEnabled()
    view.stop()


def test_a_status_message_goes_once_the_run_has_moved_on(store, ctx, qtbot) -> None:
    """Seen on Xvfb: after Resume the banner kept saying 'Run 2 is now queued' under a 'running'
    badge for the rest of the run (the Runs list's banner the same)."""
    from dataclasses import replace

    from spark_trainer.store.entities import RunStatus

    run = _cancelled_run(store)
    ctx.scheduler.stop()
    view = _page(store, ctx, qtbot, run)
    queued = replace(run, status=RunStatus.QUEUED)
    view.banner.show_message(f"Run {run.id} is now queued", "ok")  # what Resume's answer says
    assert view.banner.text() == f"Run {run.id} is now queued" and view.banner.isVisible()
    ctx.model.runs.apply_written(queued)
    assert view.banner.isVisible()  # still true
    ctx.model.runs.apply_written(replace(queued, status=RunStatus.RUNNING, updated_at=queued.updated_at))
    qtbot.waitUntil(lambda: view.badge.text() == "running")
    assert not view.banner.isVisible(), view.banner.text()
    view.stop()


def test_delete_asks_with_cancel_as_the_default_and_enter_keeps_the_run(store, ctx, qtbot) -> None:
    """The run page's Delete asked through QMessageBox.question, whose default button is Yes: Delete
    then Enter deleted the run. Now the same box as the Runs list's Delete key: Enter is Cancel."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox

    from spark_trainer.store import runs

    run = _cancelled_run(store)
    view = _page(store, ctx, qtbot, run)
    seen: list[tuple[str, str]] = []

    def answer_with_enter() -> None:  # a blocking box (the old QMessageBox.question) is answered from here too
        boxes = [w for w in QApplication.topLevelWidgets() + view.findChildren(QMessageBox)
                 if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, answer_with_enter)
            return
        default = boxes[0].defaultButton()
        seen.append((boxes[0].windowTitle(), default.text() if default else ""))
        QTest.keyClick(boxes[0], Qt.Key.Key_Return)

    QTimer.singleShot(0, answer_with_enter)
    view.delete_button.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    qtbot.wait(200)
    assert seen == [(f"Delete run {run.id}?", "Cancel")]
    assert [r.id for r in runs.list_all(store)] == [run.id]
    view.stop()


def test_the_memory_chart_says_a_cpu_run_has_no_gpu_memory_once_it_starts(store, ctx, qtbot) -> None:
    """Seen on Xvfb: runs launched from the setup form (their page opens while they are queued) kept
    'GPU memory: No points yet' after training on the CPU; a run opened once finished said why."""
    from dataclasses import replace

    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.entities import RunStatus

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    ctx.scheduler.stop()
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.badge.text() == "queued")
    memory = view.charts.charts["memory"]
    assert "No points yet" in memory.empty_label.text()
    ctx.model.runs.apply_written(replace(run, status=RunStatus.RUNNING))
    qtbot.waitUntil(lambda: view.badge.text() == "running")
    assert "this run trains on the CPU" in memory.empty_label.text(), memory.empty_label.text()
    # Seen on Xvfb: a finished run's page went on saying it "trains" on the CPU.
    ctx.model.runs.apply_written(replace(run, status=RunStatus.COMPLETED))
    qtbot.waitUntil(lambda: view.badge.text() == "completed")
    assert memory.empty_label.text().endswith("No GPU memory to show: this run trained on the CPU"), \
        memory.empty_label.text()
    view.stop()


def test_run_detail_opens_the_playground_at_the_selected_checkpoint(trained, opened, qtbot) -> None:
    from PySide6.QtCore import QItemSelectionModel

    from app.views.run_detail_view import RunDetailView

    store, ctx = opened
    detail = RunDetailView(store, ctx)
    qtbot.addWidget(detail)
    detail.show_run(trained.run_id)
    qtbot.waitUntil(lambda: detail.checkpoints.rowCount() == 2, timeout=15_000)  # read on the pool
    assert detail.playground_button.isEnabled()
    with qtbot.waitSignal(detail.playground_requested) as asked:
        detail.playground_button.click()
    assert asked.args == [trained.run_id, None]  # nothing selected: the last weights
    table = detail.checkpoints
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert list(rows) == ["40", "20"]  # newest first
    # The selection model directly: QTableView.selectRow reads the keyboard modifiers Qt believes
    # are held, which an earlier test in the same process can leave behind.
    flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    table.selectionModel().select(table.model().index(rows["20"], 0), flags)
    assert [index.row() for index in table.selectionModel().selectedRows()] == [rows["20"]]
    with qtbot.waitSignal(detail.playground_requested) as asked:
        detail.playground_button.click()
    assert asked.args == [trained.run_id, "20"]
    detail.stop()


def test_the_run_page_says_what_goes_and_deletes_the_run_with_its_app_export(store, ctx, qtbot) -> None:
    """The page's Delete goes through the Runs list's flow: the box names the folder, the export the app
    wrote and their size; the run, its folder and that export go, and the page says it is deleted."""
    from spark_trainer.store import exports, runs

    run = _cancelled_run(store)
    made = store.home.export_dir(1)
    made.mkdir(parents=True)
    exports.add(store, run.id, step=1, options={}, path=str(made))
    view = _page(store, ctx, qtbot, run)
    with qtbot.waitSignal(view.deleted, timeout=10_000) as deleted:
        view.delete_button.click()
        qtbot.waitUntil(lambda: view.deletes.box is not None and view.deletes.box.isVisible(), timeout=10_000)
        box = view.deletes.box
        assert box.text().startswith(f"Delete run {run.id}, its folder and 1 export folder (")
        next(b for b in box.buttons() if b.text() == "&Delete").click()
    assert deleted.args == [run.id]
    assert runs.list_all(store) == [] and not Path(run.run_dir).exists() and not made.exists()


def test_a_message_moves_neither_the_tabs_nor_the_charts(store, ctx, qtbot) -> None:
    # Seen: a failed run's error line sat above the tabs, so going from a completed run to a failed one
    # (or clicking Cancel: "Cancel requested…") moved the tabs and every chart 38 px down.
    from PySide6.QtCore import QPoint

    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import projects, runs
    from tests.app.gui_assets import add_experiment_with_runs
    from tests.app.model_sync import shown

    projects.create(store, "p")
    done, failed = add_experiment_with_runs(store, "p", statuses=("completed", "failed"))
    error = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity) " * 3
    runs.update(store, failed.id, error=error + "\nTraceback ...")
    view = shown(qtbot, ctx, RunDetailView(store, ctx), (854, 560))  # a 1024 x 640 window's share

    def tabs_top() -> int:
        return view.tabs.mapTo(view, QPoint(0, 0)).y()

    view.show_run(done.id)
    qtbot.waitUntil(lambda: view.run is not None and view.run.id == done.id)
    qtbot.wait(20)
    before = tabs_top()
    assert not view.banner.isVisible()
    view.show_run(failed.id)
    qtbot.waitUntil(lambda: view.banner.isVisible())
    qtbot.wait(20)
    assert tabs_top() == before
    assert view.banner.text() == error and view.banner.role == "error"  # whole, if shortened on screen
    assert view.banner.mapTo(view, view.banner.rect().topRight()).x() < view.width()  # not cut off
    assert view.banner.toolTip() == error  # the whole line, where it does not fit
    view.banner.show_message("Cancel requested…", "info")
    qtbot.wait(20)
    assert tabs_top() == before


def _runs_in(store, *paths: tuple) -> list:
    """Runs of one new experiment (project p), each taken through its path of statuses from queued."""
    from spark_trainer.store import experiments, projects, runs

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    made = []
    for path in paths:
        run = runs.create(store, exp.id, requested_gpus="cpu")
        for to in path:
            run = runs.transition(store, run.id, to, "test")
        made.append(run)
    return made


def test_export_and_evaluate_wait_for_a_run_with_weights(store, ctx, qtbot) -> None:
    # Seen in a GUI walk: a run that failed before its first checkpoint offered Export… and Evaluate…;
    # the export dialog listed 'last' and 'best', which did not exist, then failed.
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from tests.app.model_sync import sync_model

    failed, training = _runs_in(store, (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.FAILED),
                                (RunStatus.STARTING, RunStatus.RUNNING))
    sync_model(qtbot, ctx)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    buttons = (view.export_button, view.evaluate_button, view.exports_tab.export_button,
               view.exports_tab.evaluate_button)

    view.show_run(failed.id)
    qtbot.waitUntil(lambda: view.badge.text() == "failed" and not view.busy(), timeout=10_000)
    assert [b.isEnabled() for b in buttons] == [False] * 4
    assert all("no checkpoint" in b.toolTip() for b in buttons), [b.toolTip() for b in buttons]

    view.show_run(training.id)  # it saves its final model as it ends: offered then
    qtbot.waitUntil(lambda: view.badge.text() == "running" and not view.busy(), timeout=10_000)
    assert not view.export_button.isEnabled()
    (Path(training.run_dir) / "final").mkdir(parents=True)
    runs.transition(store, training.id, RunStatus.COMPLETED, "test")
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: view.badge.text() == "completed" and not view.busy(), timeout=10_000)
    qtbot.waitUntil(lambda: all(b.isEnabled() for b in buttons), timeout=10_000)
    assert "no checkpoint" not in view.export_button.toolTip()
    view.stop()


def test_the_charts_of_a_run_that_ended_without_points_say_none_will_come(store, ctx, qtbot) -> None:
    # Seen in a GUI walk: a run that failed before its first log showed "No points yet" on every chart,
    # as if points were still to come.
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from tests.app.model_sync import sync_model

    (run,) = _runs_in(store, (RunStatus.STARTING, RunStatus.RUNNING))
    sync_model(qtbot, ctx)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.badge.text() == "running", timeout=10_000)
    charts = view.charts.charts
    assert charts["loss"].empty_label.text().endswith("No points yet")
    runs.transition(store, run.id, RunStatus.FAILED, "test")
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: view.badge.text() == "failed", timeout=10_000)
    for name in ("loss", "lr", "grad", "eval", "throughput"):
        assert charts[name].empty_label.text().endswith("No points: the run ended without logging any"), name
    assert "No GPU memory to show" in charts["memory"].empty_label.text()  # its own words stay
    view.stop()


def test_a_completed_runs_charts_wait_for_its_points_before_saying_none_came(store, ctx, qtbot) -> None:
    # The first cut said "No points: the run ended without logging any" on a completed run's charts for
    # the moment before its points were read.
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import metrics
    from spark_trainer.store.entities import RunStatus
    from tests.app.model_sync import sync_model

    (run,) = _runs_in(store, (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED))
    metrics.add_batch(store, run.id, [("loss", 1, 2.0), ("loss", 2, 1.5)])
    sync_model(qtbot, ctx)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    charts = view.charts.charts
    assert view.feed.busy  # its points not read yet
    assert all(not charts[name].empty_label.text().endswith("the run ended without logging any")
               for name in ("loss", "lr", "grad"))
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    qtbot.waitUntil(lambda: charts["grad"].empty_label.text().endswith("the run ended without logging any"),
                    timeout=10_000)  # read: no gradient norm came, and none will
    assert charts["loss"].empty_label.isHidden()  # its points drawn
    view.stop()


def test_a_queued_runs_page_says_when_it_should_start(store, qsettings, qtbot, monkeypatch) -> None:
    """As its Status tooltip in the Runs list and `queue show`'s starts column."""
    from app.views.run_detail_view import RunDetailView
    from tests.app.queue_night import at, estimated_window

    ids, ctx = estimated_window(store, qsettings, qtbot, monkeypatch)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(ids["b"])
    qtbot.waitUntil(lambda: "starts" in view.eta.text(), timeout=10_000)
    assert f"priority 0, 2nd of 3 queued to start · starts {at(1040)} · waiting for run" in view.eta.text()
    assert view.eta.toolTip().startswith("waiting for run")  # its reason whole, bracketed detail too
    ctx.shutdown()


def test_a_held_queued_runs_page_says_so_without_a_command_cut_in_half(store, ctx, qtbot) -> None:
    # A walk: the page of a run queued behind a hold read "queue is held (it starts once the queue is
    # released: `spark-tr…", a command cut off by the page's width, in the app.
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import experiments, projects, queue_hold, runs
    from tests.app.model_sync import sync_model

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    queue_hold.hold(store)
    sync_model(qtbot, ctx)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: "queue is held" in view.eta.text(), timeout=10_000)
    assert "spark-trainer" not in view.eta.text() and "(" not in view.eta.text(), view.eta.text()
    assert view.eta.toolTip() == queue_hold.REASON
    view.stop()


def test_a_run_deleted_with_its_project_in_this_window_says_so_and_offers_nothing(store, ctx, qtbot) -> None:
    """The walk (d4.png): after Delete project in this window, the open run page said 'Run 3 no
    longer exists (deleted by another window or command)', and Export…, Evaluate… stayed enabled."""
    from app.views.projects_view import ProjectsView
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import projects
    from tests.app.model_sync import shown

    run = _cancelled_run(store)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.badge.text() == "cancelled")
    listing = shown(qtbot, ctx, ProjectsView(store, ctx))
    listing.select(projects.list_all(store)[0].id)
    listing.delete_selected()
    qtbot.waitUntil(lambda: listing.dialog is not None, timeout=10_000)
    listing.dialog.confirm.click()
    qtbot.waitUntil(lambda: "no longer exists" in view.banner.text(), timeout=10_000)
    qtbot.wait(300)  # anything delivered after (the run's static parts) enables nothing again
    assert view.banner.text() == f"Run {run.id} no longer exists: it was deleted with project 'p'."
    buttons = (view.cancel_button, view.pause_button, view.resume_button, view.delete_button, view.export_button,
               view.evaluate_button, view.playground_button, view.clone_button, view.extend_button)
    assert [b.text() for b in buttons if b.isEnabled()] == []
