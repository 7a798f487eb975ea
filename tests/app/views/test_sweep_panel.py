"""The setup form's sweep panel: one or more settings, several values each, checked as `train --sweep`
checks them, queued into the real store (one run per combination), then opened in the compare page."""

from __future__ import annotations

import os
from pathlib import Path

from spark_trainer.store import runs, sweeps
from spark_trainer.store.entities import RunStatus
from tests.app.views.test_experiment_setup_view import filled_form, frames_form


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
    row = panel.rows[0]
    assert row.field.currentText() == "train.learning_rate"  # the usual first sweep
    assert "recipe_config.class_weights" in [row.field.itemText(i) for i in range(row.field.count())]
    assert not row.remove.isEnabled()  # a sweep sweeps something

    row.values.setText("1e-4, -1")  # the same check and words as the CLI's
    assert panel.status.text() == "train.learning_rate=-1: must be greater than 0"
    assert not panel.queue.isEnabled()
    _shot(view.sweep, "setup-sweep-bad-value.png", tmp_path, qtbot)

    row.values.setText("1e-4")  # one value: the CLI's words said "(one value is a --set)"
    assert panel.status.text() == ("Give two or more values of train.learning_rate (one value: set it in "
                                   "the form instead)")
    assert not panel.queue.isEnabled()

    row.values.setText("1e-4, 3e-4, 1e-3")
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
    assert asked.args == ["runs", {"sweep": "sentiment-sweep-1"}]  # the Runs view compares a sweep's runs


def test_choices_are_ticked_and_a_form_that_cannot_launch_cannot_sweep(store, ctx, qtbot, tmp_path) -> None:
    view = _ready_form(store, ctx, qtbot, tmp_path)
    panel = view.sweep
    row = panel.rows[0]
    row.field.setCurrentText("recipe_config.class_weights")
    assert not row.values.isVisible()
    row.check_choice("none")
    assert not panel.queue.isEnabled() and "two or more values" in panel.status.text()
    row.check_choice("balanced")
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


def test_two_settings_queue_their_cross_product(store, ctx, qtbot, tmp_path) -> None:
    """The box took one setting where `train --sweep` takes several: a row per setting, the number of
    runs of their cross product, the CLI's one-line errors, and every combination queued."""
    view = _ready_form(store, ctx, qtbot, tmp_path)
    panel = view.sweep
    lr = panel.rows[0]
    lr.values.setText("1e-4, 1e-3")
    rank = panel.add_row()
    assert rank.field.currentText() == "recipe_config.lora_r"  # the usual second setting
    assert lr.remove.isEnabled() and rank.remove.isEnabled()
    assert panel.status.text() == "Give two or more values of recipe_config.lora_r."
    assert not panel.queue.isEnabled()

    rank.values.setText("4, 8, 16")
    assert panel.status.text() == ("6 runs (2 × 3):\ntrain.learning_rate = 1e-4, 1e-3\n"
                                   "recipe_config.lora_r = 4, 8, 16")
    assert panel.queue.text() == "Queue sweep (6 runs)" and panel.queue.isEnabled()
    _shot(view.sweep, "setup-sweep-two-settings.png", tmp_path, qtbot)

    rank.values.setText("4, 0")  # one value alone is named, in the CLI's words
    assert panel.status.text() == "recipe_config.lora_r=0: must be at least 1"
    assert not panel.queue.isEnabled()
    rank.field.setCurrentText("train.learning_rate")
    rank.values.setText("1e-2, 1e-1")
    # The check is the CLI's (config/sweep.py); the words are the panel's: it has rows, not --sweep flags.
    assert panel.status.text() == ("train.learning_rate is in two rows; give all its values in one row "
                                   "and choose another setting in the other")
    _shot(view.sweep, "setup-sweep-swept-twice.png", tmp_path, qtbot)
    rank.field.setCurrentText("train.seed")
    rank.values.setText(", ".join(str(i) for i in range(33)))  # 2 x 33
    assert panel.status.text() == "sweep: 2 x 33 values make 66 runs; a sweep queues at most 64"
    assert not panel.queue.isEnabled() and panel.queue.text() == "Queue sweep"

    rank.values.setText("1, 2")
    seed = panel.add_row("recipe_config.class_weights")
    assert panel.status.text() == "Give two or more values of recipe_config.class_weights."
    panel.remove_row(seed)
    assert [r.field.currentText() for r in panel.rows] == ["train.learning_rate", "train.seed"]
    assert panel.status.text().startswith("4 runs (2 × 2):")
    task = panel.queue_sweep()
    assert task is not None
    qtbot.waitUntil(lambda: not panel.busy(), timeout=15_000)
    queued = runs.list_all(store, sweep="sentiment-sweep-1")
    assert sorted((r.sweep_values["train.learning_rate"], r.sweep_values["train.seed"]) for r in queued) == [
        (1e-4, 1), (1e-4, 2), (1e-3, 1), (1e-3, 2)]
    assert sweeps.plan(store, "sentiment-sweep-1") == [r.sweep_values for r in queued]  # `sweep show` counts from it
    assert view.banner.text() == f"Sweep sentiment-sweep-1: runs {', '.join(str(r.id) for r in sorted(queued, key=lambda r: r.id))} queued"


def test_a_new_recipe_keeps_each_rows_setting_where_it_has_it(store, ctx, qtbot, tmp_path) -> None:
    """The rows' values were all erased by a new recipe, even those of a setting it also has."""
    view = _ready_form(store, ctx, qtbot, tmp_path)
    panel = view.sweep
    lr = panel.rows[0]
    lr.values.setText("1e-4, 1e-3")
    auto = panel.add_row("train.auto_batch")  # a switch: its ticks stay too
    auto.check_choice("true")
    auto.check_choice("false")
    weights = panel.add_row("recipe_config.class_weights")
    weights.check_choice("none")
    weights.check_choice("balanced")
    panel.set_recipe("causal-lm")  # no class weights: the row takes a setting no row has
    keys = [r.field.currentText() for r in panel.rows]
    assert keys == ["train.learning_rate", "train.auto_batch", "recipe_config.lora_r"]
    assert lr.values.text() == "1e-4, 1e-3"
    assert auto.value_texts() == ["true", "false"]
    assert weights.value_texts() == []  # a new setting starts empty
    assert panel.status.text() == "Give two or more values of recipe_config.lora_r."


def test_switching_a_row_between_choice_settings_drops_the_old_ticks(store, ctx, qtbot, tmp_path) -> None:
    """The old check boxes were only deleted later, so the row still counted their ticks: nothing
    ticked under checkpoint.keep_best, yet '2 runs: checkpoint.keep_best = true, false' and Queue on."""
    view = _ready_form(store, ctx, qtbot, tmp_path)
    panel = view.sweep
    row = panel.rows[0]
    row.field.setCurrentText("train.auto_batch")
    row.check_choice("true")
    row.check_choice("false")
    assert panel.status.text() == "2 runs: train.auto_batch = true, false"
    row.field.setCurrentText("checkpoint.keep_best")
    assert row.value_texts() == []
    assert panel.status.text() == "Give two or more values of checkpoint.keep_best."
    assert not panel.queue.isEnabled()
    _shot(view.sweep, "setup-sweep-switched.png", tmp_path, qtbot)
    row.check_choice("true")
    row.check_choice("false")
    assert panel.status.text() == "2 runs: checkpoint.keep_best = true, false"


def test_a_swept_resolution_larger_than_the_images_is_warned_of_in_the_sweep_box(store, ctx, qtbot, tmp_path) -> None:
    """The form warned of its own resolution only: a sweep to 512 on 64 px frames queued silently in the
    GUI (`train --sweep` printed it). The sweep box says it in `train --sweep`'s words; Queue stays enabled."""
    view = frames_form(store, ctx, qtbot, tmp_path)
    view.forms["recipe_config"].set_values({"resolution": 64})
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    panel = view.sweep
    row = panel.rows[0]
    row.field.setCurrentText("recipe_config.resolution")
    row.values.setText("64, 512")
    qtbot.waitUntil(lambda: not view.checking and panel.data_warning.isVisible(), timeout=15_000)
    assert panel.data_warning.text() == (
        "Warning: sweep recipe_config.resolution=512: recipe_config.resolution 512 is larger than 6 of the "
        "dataset's 6 images (shorter side typically 64 px): each is enlarged to 512 px, 64x its pixels, which "
        "slows every step and adds no detail; try recipe_config.resolution: 64 (keep 512 if the enlargement "
        "is intended)")
    assert not view.data_warning.isVisible()  # the form's own 64 is fine
    assert panel.queue.isEnabled()  # said, not refused
    _shot(view, "setup-sweep-resolution-warning.png", tmp_path, qtbot)
    row.values.setText("64, 32")
    qtbot.waitUntil(lambda: not view.checking and not panel.data_warning.isVisible(), timeout=15_000)
