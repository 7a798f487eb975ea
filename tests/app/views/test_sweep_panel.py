"""The setup form's sweep panel: one setting, several values, checked as `train --sweep` checks them,
queued into the real store, then opened in the compare page."""

from __future__ import annotations

import os
from pathlib import Path

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from tests.app.views.test_experiment_setup_view import filled_form


def _ready_form(store, ctx, qtbot, tmp_path):
    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    return view


def _shot(widget, name: str, tmp_path: Path, qtbot) -> None:
    qtbot.wait(50)  # the layout follows the new button text
    folder = Path(os.environ.get("SPARK_SHOTS", tmp_path))
    assert widget.grab().save(str(folder / name))


def test_a_sweep_of_learning_rates_is_queued_and_opens_in_compare(store, ctx, qtbot, tmp_path) -> None:
    view = _ready_form(store, ctx, qtbot, tmp_path)
    panel = view.sweep
    assert panel.field.currentText() == "train.learning_rate"  # the usual first sweep
    assert "recipe_config.class_weights" in [panel.field.itemText(i) for i in range(panel.field.count())]

    panel.values.setText("1e-4, -1")  # the same check and words as the CLI's
    assert panel.status.text() == "sweep train.learning_rate=-1: got -1; Input should be greater than 0"
    assert not panel.queue.isEnabled()
    _shot(view.sweep, "setup-sweep-bad-value.png", tmp_path, qtbot)

    panel.values.setText("1e-4, 3e-4, 1e-3")
    assert panel.status.text() == "3 runs: train.learning_rate = 1e-4, 3e-4, 1e-3"
    assert panel.queue.isEnabled() and panel.queue.text() == "Queue sweep (3 runs)"
    _shot(view, "setup-sweep.png", tmp_path, qtbot)

    task = panel.queue_sweep()
    assert task is not None
    qtbot.waitUntil(lambda: not panel.busy(), timeout=15_000)
    assert view.banner.text() == "Sweep sentiment-sweep-1: runs 1, 2, 3 queued"
    queued = runs.list_all(store, sweep="sentiment-sweep-1")
    assert [r.sweep_values["train.learning_rate"] for r in queued] == [1e-4, 3e-4, 1e-3]
    assert all(r.status == RunStatus.QUEUED for r in queued)

    assert panel.compare.isVisible() and panel.compare.text() == "Compare sentiment-sweep-1"
    _shot(view, "setup-sweep-queued.png", tmp_path, qtbot)
    with qtbot.waitSignal(ctx.navigate_requested) as asked:
        panel.compare.click()
    assert asked.args == ["runs", [1, 2, 3]]  # the Runs view opens a list of ids in its compare page


def test_choices_are_ticked_and_a_form_that_cannot_launch_cannot_sweep(store, ctx, qtbot, tmp_path) -> None:
    view = _ready_form(store, ctx, qtbot, tmp_path)
    panel = view.sweep
    panel.field.setCurrentText("recipe_config.class_weights")
    assert not panel.values.isVisible()
    panel.check_choice("none")
    assert not panel.queue.isEnabled() and "two or more values" in panel.status.text()
    panel.check_choice("balanced")
    assert panel.status.text() == "2 runs: recipe_config.class_weights = none, balanced"
    assert panel.queue.isEnabled()
    _shot(view, "setup-sweep-choices.png", tmp_path, qtbot)

    view.name.setText("")  # the form's own error: no sweep either
    assert not view.launch.isEnabled() and not panel.queue.isEnabled()
    assert panel.queue_sweep() is None
    assert runs.list_all(store) == []

    # A form whose values are all valid but whose data check fails (a column the dataset lacks): the
    # sweep itself checks out, and Queue still waits for Launch (the empty name above already made the
    # sweep's own check fail, so it did not show this).
    view.name.setText("sentiment")
    view.forms["recipe_config"].set_values({"text_column": "nope"})
    qtbot.waitUntil(lambda: not view.checking and bool(view.errors["dataset"].text()), timeout=15_000)
    assert panel.status.text() == "2 runs: recipe_config.class_weights = none, balanced"
    assert not view.launch.isEnabled() and not panel.queue.isEnabled()
    assert panel.queue_sweep() is None
    assert runs.list_all(store) == []
