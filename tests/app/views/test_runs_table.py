"""The Runs list over the table model: live updates keep the selection, a header click sorts,
filters, the progress bar's values, and a double-click opens the run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from PySide6.QtCore import Qt

from app.views.table_models import PROGRESS_ROLE
from app.widgets import table_texts
from spark_trainer.store.entities import RunStatus
from tests.app.model_sync import sync_model
from tests.app.test_part2_views import _run


def test_runs_list_live_update_selection_sort_filter_and_open(store, ctx, qtbot) -> None:
    from app.views.runs_view import COLUMNS, RunsView

    a = _run(store, "slow", 1e-4, [3.0, 2.5, 2.2])
    b = _run(store, "fast", 1e-3, [3.0, 2.0, 1.5])
    c = _run(store, "waiting", 1e-3, [3.0], status=RunStatus.PAUSED)
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == 3, timeout=10_000)
    assert [r[1] for r in table_texts(view.table)] == [str(c.id), str(b.id), str(a.id)]  # newest first
    loss = COLUMNS.index("loss")
    assert table_texts(view.table)[1][loss] == "1.5000"
    assert view.table.item(0, 0).toolTip() == "paused" and view.table.item(0, 0).foreground().name() == "#8250df"

    view.table.select_keys([a.id, c.id])
    model = ctx.model.runs
    moved = model.get(a.id)
    model.apply_written(replace(moved, step=moved.step + 7, updated_at=moved.updated_at + timedelta(seconds=5)))
    assert view.selected_ids() == [c.id, a.id]
    assert view.table.item(2, COLUMNS.index("Progress")).data(PROGRESS_ROLE) == (3, 3)  # capped at the total

    view.table.sortByColumn(loss, Qt.SortOrder.AscendingOrder)  # a header click
    assert [r[1] for r in table_texts(view.table)] == [str(b.id), str(a.id), str(c.id)]
    assert view.selected_ids() == [a.id, c.id]

    view.status_filter.setCurrentText("completed")
    assert sorted(int(r[1]) for r in table_texts(view.table)) == [a.id, b.id]
    assert view.selected_ids() == [a.id]  # the filtered-out run is no longer selected; the other still is

    view.table.doubleClicked.emit(view.table.model().index(0, 2))
    assert view.stack.currentWidget() is view.detail
    view.shutdown()


def test_a_queued_run_says_what_it_waits_for_in_the_list_and_on_its_page(store, ctx, qtbot) -> None:
    """A run waiting behind another said only "queued"; the list and the run page now say why,
    in the words of `spark-trainer run show` (the scheduler's placement policy), and move on."""
    from app.views.runs_view import COLUMNS, RunsView
    from spark_trainer.jobs.scheduler import READY
    from spark_trainer.store import runs, settings

    settings.set_value(store, "max_concurrent_runs", 1)
    first = _run(store, "first", 1e-3, [3.0], status=RunStatus.RUNNING)
    second = _run(store, "second", 1e-3, [3.0], status=RunStatus.QUEUED)
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    status = COLUMNS.index("Status")
    reason = f"waiting for run {first.id} to finish (max concurrent runs 1)"
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    cells = {int(r[1]): r[status] for r in table_texts(view.table)}
    assert cells == {first.id: "running", second.id: f"queued: waiting for run {first.id} to finish"}
    assert view.table.item(0, status).toolTip() == f"queued: {reason}\npriority 0, the only queued run"
    view.open_run(second.id)
    qtbot.waitUntil(lambda: reason in view.detail.eta.text(), timeout=10_000)

    runs.transition(store, first.id, RunStatus.COMPLETED, "test")
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: READY in view.detail.eta.text(), timeout=10_000)
    assert {int(r[1]): r[status] for r in table_texts(view.table)}[second.id] == f"queued: {READY.split(' (')[0]}"
    view.shutdown()


def test_a_running_run_still_starting_up_says_what_it_does_in_the_list_and_on_its_page(store, ctx, qtbot,
                                                                                      tmp_path) -> None:
    # Seen on Xvfb: a diffusion run caching 1,300 frames' latents showed "running", 0/10, ETA - for
    # 25 minutes; only its Log tab said what it was doing.
    from app.views.runs_view import COLUMNS, RunsView
    from spark_trainer.store import runs

    run = _run(store, "caching", 1e-3, [3.0], status=RunStatus.RUNNING)
    runs.beat(store, run.id, "loading the model: caching VAE latents 340/2,600 images")
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    view.resize(1400, 700)
    status = COLUMNS.index("Status")
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=10_000)
    assert table_texts(view.table)[0][status] == "running: caching VAE latents 340/2,600 images"
    view.open_run(run.id)
    qtbot.waitUntil(lambda: "loading the model: caching VAE latents 340/2,600 images" in view.detail.eta.text(),
                    timeout=10_000)
    view.grab().save(str(tmp_path / "starting-run.png"))
    print(tmp_path / "starting-run.png")
    runs.update(store, run.id, step=1, total_steps=10, phase=None)  # the first step: start-up is over
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: "caching" not in view.detail.eta.text(), timeout=10_000)
    view.shutdown()


def test_long_project_and_experiment_names_leave_status_and_progress_on_screen_at_1024(store, ctx, qtbot) -> None:
    # Seen in a GUI walk: a 76-character project and an 85-character experiment name took their whole
    # width, so at 1024 x 640 the list showed ID, Project and half the Experiment, and no Status.
    from app.views.runs_view import COLUMNS, RunsView
    from spark_trainer.store import experiments, projects, runs

    project = "customer-support-assistant-for-the-northern-european-region-quarterly-review"
    name = "lora-r16-lr3e-3-seq128-packing-on-support-tickets-with-a-rather-long-experiment-name"
    projects.create(store, project)
    exp = experiments.create(store, project=project, name=name, recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, total_steps=10)
    for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.FAILED):
        runs.transition(store, run.id, to, "test", step=2)
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    view.resize(850, 600)  # the Runs view's width in a 1024-pixel window
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=10_000)
    qtbot.wait(50)
    table = view.table
    for title in ("Status", "Progress"):
        col = COLUMNS.index(title)
        assert table.columnViewportPosition(col) + table.columnWidth(col) <= table.viewport().width(), title
    experiment = table.item(0, COLUMNS.index("Experiment"))
    assert experiment.text() == name and experiment.toolTip() == name  # cut on screen, whole in the tooltip
    view.shutdown()


def test_a_queued_cpu_run_says_cpu_in_the_list_and_on_its_page_as_once_started(store, ctx, qtbot) -> None:
    # Seen in a GUI walk: the GPUs column said "cpu" for a queued CPU run and "CPU" once it started. Queued,
    # it says "asked CPU": a request, not a device it got.
    from app.views.runs_view import COLUMNS, RunsView
    from spark_trainer.store import runs

    started = _run(store, "started", 1e-3, [3.0])
    queued = runs.create(store, started.experiment_id, requested_gpus="cpu")
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    gpus = COLUMNS.index("GPUs")
    assert {int(r[1]): r[gpus] for r in table_texts(view.table)} == {started.id: "CPU", queued.id: "asked CPU"}
    view.open_run(queued.id)
    qtbot.waitUntil(lambda: view.detail.eta.text().startswith("asked CPU"), timeout=10_000)
    view.shutdown()


def test_a_run_cancelled_while_queued_ran_nowhere_and_says_what_it_asked_for(store, ctx, qtbot) -> None:
    # The Runs list said "local" under Ran on and "auto" under GPUs for a run cancelled while queued, as if
    # it had trained here on a device "auto". A run interrupted after it started keeps its "local".
    from app.views.runs_view import COLUMNS, RunsView
    from spark_trainer.store import runs

    started = _run(store, "started", 1e-3, [3.0])
    never = runs.create(store, started.experiment_id, requested_gpus="auto")
    runs.transition(store, never.id, RunStatus.CANCELLED, "cancelled while queued")
    waiting = runs.create(store, started.experiment_id, requested_gpus="0,1")
    stopped = runs.create(store, started.experiment_id, requested_gpus="auto")
    assert runs.claim(store, lambda queued, active: [(stopped.id, [0], "test: placed")])
    runs.transition(store, stopped.id, RunStatus.RUNNING, "worker started", pid=4242)
    runs.transition(store, stopped.id, RunStatus.INTERRUPTED, "worker gone")
    # Resumed onto GPU 1 and waiting: it said "0", where it trained before, as if placed there again.
    resumed = runs.create(store, started.experiment_id, requested_gpus="auto")
    assert runs.claim(store, lambda queued, active: [(resumed.id, [0], "test: placed")])
    runs.transition(store, resumed.id, RunStatus.PAUSED, "paused")
    runs.transition(store, resumed.id, RunStatus.QUEUED, "resume requested", requested_gpus="1")
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == 5, timeout=10_000)
    gpus, ran_on = COLUMNS.index("GPUs"), COLUMNS.index("Ran on")
    assert {int(r[1]): (r[gpus], r[ran_on]) for r in table_texts(view.table)} == {
        started.id: ("CPU", "local"), never.id: ("asked auto", "-"), waiting.id: ("asked 0,1", "-"),
        stopped.id: ("0", "local"), resumed.id: ("asked 1", "local")}
    row = {int(r[1]): i for i, r in enumerate(table_texts(view.table))}
    assert view.table.item(row[never.id], ran_on).toolTip() == "asked for GPUs auto; it never started"
    assert view.table.item(row[waiting.id], gpus).toolTip() == "asked for GPUs 0,1; it has not started yet"
    assert view.table.item(row[stopped.id], ran_on).toolTip() == ""
    assert view.table.item(row[resumed.id], gpus).toolTip() == ("asked for GPUs 1; it waits to start again "
                                                                "(it trained on 0 before)")
    view.shutdown()


def test_a_failed_runs_status_tooltip_says_its_errors_first_line(store, ctx, qtbot, tmp_path) -> None:
    # A run that failed in the night was "failed" in the cell and its tooltip: only its page said why.
    from app.views.runs_view import COLUMNS, RunsView
    from spark_trainer.store import runs

    run = _run(store, "oom", 1e-3, [3.0], status=RunStatus.FAILED)
    runs.update(store, run.id, error="\nCUDA out of memory. Tried to allocate 2.00 GiB\nTraceback (most recent ...")
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    status = COLUMNS.index("Status")
    qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=10_000)
    assert table_texts(view.table)[0][status] == "failed"  # the cell stays short
    assert view.table.item(0, status).toolTip() == "failed: CUDA out of memory. Tried to allocate 2.00 GiB"
    view.shutdown()
