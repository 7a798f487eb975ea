"""Leaderboard: it follows runs that report new values while it is shown."""

from __future__ import annotations

import time

from spark_trainer.store import metrics
from spark_trainer.store.entities import RunStatus
from tests.app.model_sync import sync_model
from tests.app.test_part2_views import _run


def _board(view) -> list[tuple[str, str, str]]:  # noqa: ANN001 - the view under test
    """(run, score, last step) per row, in rank order."""
    return [(view.table.item(r, 1).text(), view.table.item(r, 6).text(), view.table.item(r, 7).text())
            for r in range(view.table.rowCount())]


def test_a_run_evaluated_while_the_board_is_shown_is_ranked_by_its_new_value(store, ctx, qtbot) -> None:
    # Seen on Xvfb: a text-classification run reached eval_loss 0.21 at step 45 while the shown board
    # went on ranking it second with 0.687 from step 15, until the view was left and shown again.
    from app.views.leaderboard_view import LeaderboardView

    done = _run(store, "done", 1e-4, [3.0, 2.5, 2.2])  # eval_loss 2.3
    live = _run(store, "live", 1e-3, [3.0, 2.9, 2.8], status=RunStatus.RUNNING)  # eval_loss 2.9 so far
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    assert _board(view) == [(str(done.id), "2.3000", "3"), (str(live.id), "2.9000", "3")]

    metrics.add_batch(store, live.id, [("loss", 4, 1.0, time.time()), ("eval_loss", 4, 1.1, time.time())])
    sync_model(qtbot, ctx)  # the worker's next evaluation, as the app's poller reads it
    qtbot.waitUntil(lambda: _board(view) == [(str(live.id), "1.1000", "4"), (str(done.id), "2.3000", "3")],
                    timeout=10_000)


def test_a_long_experiment_name_leaves_the_score_on_screen_at_1024(store, ctx, qtbot) -> None:
    # Seen in a GUI walk: an 85-character experiment name took its whole width, so at 1024 px the
    # board showed Rank, Run, Project and part of Experiment, and no Score.
    from app.views.leaderboard_view import COLUMNS, LeaderboardView

    name = "lora-r16-lr3e-3-seq128-packing-on-support-tickets-with-a-rather-long-experiment-name"
    _run(store, name, 1e-4, [3.0, 2.5, 2.2])
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.resize(850, 600)  # the view's width in a 1024-pixel window
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.table.rowCount() == 1, timeout=10_000)
    qtbot.wait(50)
    table, score = view.table, COLUMNS.index("Score")
    assert table.columnViewportPosition(score) + table.columnWidth(score) <= table.viewport().width()
    assert table.item(0, COLUMNS.index("Experiment")).toolTip() == name


def test_the_project_and_dataset_filters_stay_in_the_window_with_long_names(store, ctx, qtbot, tmp_path) -> None:
    # Seen in a GUI walk: the filters grew to their longest item with no cap, so a 76-character
    # project's dataset, listed as "name (project)", ran the Dataset box past the window's right edge.
    import json

    from app.views.leaderboard_view import LeaderboardView
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects

    project = "customer-support-assistant-for-the-northern-european-region-quarterly-review"
    projects.create(store, project)
    rows = tmp_path / "tickets.jsonl"
    rows.write_text("".join(json.dumps({"text": f"ticket {i}"}) + "\n" for i in range(4)))
    dataset = ingest_paths(store, [rows], project=project, name="support-tickets-classifier-2026-cleaned-deduplicated-and-relabelled").dataset
    _run(store, "done", 1e-4, [3.0, 2.5, 2.2])
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.resize(850, 600)  # the view's width in a 1024-pixel window
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.dataset.count() > 1, timeout=10_000)
    qtbot.wait(50)
    for box in (view.project, view.dataset):
        assert box.mapTo(view, box.rect().topRight()).x() <= view.width(), box.currentText()
    view.dataset.setCurrentIndex(view.dataset.findData(dataset.id))
    full = f"{dataset.name} ({project})"
    assert view.dataset.currentText() == full and view.dataset.toolTip() == full  # whole, if cut in the box
    assert view.dataset.mapTo(view, view.dataset.rect().topRight()).x() <= view.width()


def test_an_evals_ranking_and_its_columns_are_on_the_evaluation_data_chosen(store, ctx, qtbot) -> None:
    """The view ranked a run by its best evals/classification_accuracy of any data (0.3333 on an 18-row
    file) beside its last of any data (0 on a 1-row file), as `leaderboard` did: now one data at a
    time, the one most runs were evaluated on first, the others in "Evaluated on"."""
    from app.views.leaderboard_view import LeaderboardView
    from tests.cli.test_ranking import _evaluated

    a = _run(store, "a", 1e-4, [3.0, 2.5])
    b = _run(store, "b", 1e-3, [3.0, 2.9])
    _evaluated(store, a.id, "classification", "/d/heldout.jsonl", {"accuracy": 1 / 3})
    _evaluated(store, b.id, "classification", "/d/heldout.jsonl", {"accuracy": 0.5})
    _evaluated(store, a.id, "classification", "/d/longcls.csv", {"accuracy": 0.0})
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.metric_box.count() > 0, timeout=10_000)
    view.metric_box.setCurrentText("evals/classification_accuracy")
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    assert [view.eval_data.itemText(i) for i in range(view.eval_data.count())] == \
        ["heldout.jsonl (2 runs)", "longcls.csv (1 run)"]
    headers = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert headers[-1] == "classification_accuracy\non heldout.jsonl"
    assert [(r, score) for r, score, _step in _board(view)] == [(str(b.id), "0.5000"), (str(a.id), "0.3333")]
    assert "on heldout.jsonl ranks first" in view.order_note.text()
    assert "also evaluated on: longcls.csv (1 run)" in view.order_note.text()
    view.eval_data.setCurrentIndex(1)  # as a user's pick: the index changes, then `activated`
    view.eval_data.activated.emit(1)
    qtbot.waitUntil(lambda: not view.busy() and [r for r, _s, _t in _board(view)] == [str(a.id)], timeout=10_000)
    assert _board(view)[0][1] == "0.0000"
    assert view.table.horizontalHeaderItem(view.table.columnCount() - 1).text() == "classification_accuracy\non longcls.csv"


def test_an_evals_ranking_opens_on_the_data_that_has_its_metric_unless_the_user_picked_one(store, ctx, qtbot) -> None:
    """Three runs' perplexity on long.txt, one classifier's accuracy on tickets.jsonl: switching the
    Metric to evals/classification_accuracy kept long.txt, the last ranking's default, and ranked 0 runs."""
    from app.views.leaderboard_view import LeaderboardView
    from tests.cli.test_ranking import _evaluated

    lms = [_run(store, f"lm{i}", 1e-4, [3.0, 2.5 - i / 10]) for i in range(3)]
    classifier = _run(store, "cls", 1e-3, [3.0, 2.9])
    for run in lms:
        _evaluated(store, run.id, "perplexity", "/d/long.txt", {"perplexity": 9.0, "loss": 2.0})
    _evaluated(store, classifier.id, "classification", "/d/tickets.jsonl", {"accuracy": 0.75})
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.eval_data.count() > 0, timeout=10_000)
    assert view.eval_data.currentText() == "long.txt (3 runs)"  # eval_loss: the data most runs were evaluated on
    view.metric_box.setCurrentText("evals/classification_accuracy")
    qtbot.waitUntil(lambda: not view.busy() and view.eval_data.currentText() == "tickets.jsonl (1 run)",
                    timeout=10_000)
    assert [r for r, _s, _t in _board(view)] == [str(classifier.id)]
    view.eval_data.setCurrentIndex(view.eval_data.findText("long.txt (3 runs)"))  # picked: kept from now on
    view.eval_data.activated.emit(view.eval_data.currentIndex())
    qtbot.waitUntil(lambda: not view.busy() and _board(view) == [], timeout=10_000)
    view.metric_box.setCurrentText("eval_loss")
    qtbot.waitUntil(lambda: not view.busy() and len(_board(view)) == 4, timeout=10_000)
    assert view.eval_data.currentText() == "long.txt (3 runs)"


def test_step_is_where_the_best_value_was_measured_and_the_columns_are_that_evaluations(store, ctx, qtbot) -> None:
    """A walk: run 13's best accuracy, 0.875 at step 100, read "Last step 200", beside the evaluation
    columns of its last evaluation (0.7917 at step 200)."""
    from app.views.leaderboard_view import LeaderboardView
    from tests.cli.test_ranking import _evaluated

    run = _run(store, "r", 1e-4, [3.0, 1.0, 2.0])  # its best loss at step 2, its last step 3
    _evaluated(store, run.id, "classification", "/d/cls.jsonl", {"accuracy": 0.7917, "macro_f1": 0.7884}, step=200)
    _evaluated(store, run.id, "classification", "/d/cls.jsonl", {"accuracy": 0.875, "macro_f1": 0.8748}, step=100)
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.metric_box.count() > 0, timeout=10_000)
    view.metric_box.setCurrentText("loss")
    qtbot.waitUntil(lambda: not view.busy() and _board(view) == [(str(run.id), "1.0000", "2")], timeout=10_000)
    assert view.table.horizontalHeaderItem(7).text() == "Step"
    assert "Step: where each run's best value was measured" in view.order_note.text()
    view.metric_box.setCurrentText("evals/classification_accuracy")
    qtbot.waitUntil(lambda: not view.busy() and _board(view) == [(str(run.id), "0.8750", "100")], timeout=10_000)
    last = view.table.columnCount() - 1
    assert view.table.horizontalHeaderItem(last).text() == "classification_macro_f1\non cls.jsonl"
    assert view.table.item(0, last).text() == "0.8748"
    assert "from the evaluation that gave its best classification_accuracy" in view.order_note.text()


def test_tied_runs_share_a_rank_said_with_an_equals_sign(store, ctx, qtbot) -> None:
    from app.views.leaderboard_view import LeaderboardView

    a, b = (_run(store, name, 1e-4, [3.0, 2.0]) for name in ("a", "b"))  # eval_loss 2.1 both
    c = _run(store, "c", 1e-4, [3.0, 2.5])
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.table.rowCount() == 3, timeout=10_000)
    ranks = [(view.table.item(r, 0).text(), view.table.item(r, 1).text()) for r in range(3)]
    assert ranks == [("=1", str(a.id)), ("=1", str(b.id)), ("3", str(c.id))]


def test_runs_without_the_metric_are_said_to_be_left_out(store, ctx, qtbot) -> None:
    from app.views.leaderboard_view import LeaderboardView
    from spark_trainer.store import experiments, runs

    _run(store, "a", 1e-4, [3.0, 2.0])
    exp = experiments.create(store, project="cmp", name="gone", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    runs.transition(store, runs.create(store, exp.id).id, RunStatus.CANCELLED, "test: stopped")
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.table.rowCount() == 1, timeout=10_000)
    assert "1 run without eval_loss left out: 1 cancelled." in view.order_note.text()
