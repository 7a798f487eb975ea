"""The Playground's labels follow the recipe: a classifier is asked to classify, not to generate,
and the model picker shows its whole choice ("Final model", "Checkpoint step 40 (best)")."""

from __future__ import annotations

import pytest

from spark_trainer.store import experiments, projects, runs


def _run(store, recipe: str, name: str | None = None):
    from pathlib import Path

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name=name or recipe, recipe=recipe, base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    (Path(run.run_dir) / "final").mkdir(parents=True)
    return run


def _opened(store, ctx, qtbot, recipe: str):
    """A Playground shown at its usual size, with a new run of `recipe` opened."""
    from app.views.playground_view import PlaygroundView

    run = _run(store, recipe)
    view = PlaygroundView(store, ctx, idle_s=60)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    view.open_run(run.id)
    qtbot.waitUntil(lambda: view.opening is None)
    return view


@pytest.mark.parametrize(("recipe", "action"), [("text-classification", "Classify"),
                                                ("image-classification", "Classify"),
                                                ("causal-lm", "Generate")])
def test_the_action_button_names_what_the_recipe_does(store, ctx, qtbot, recipe, action):
    view = _opened(store, ctx, qtbot, recipe)
    assert view.generate_button.text() == action
    label = view.checkpoint.currentText()
    assert label == "Final model"
    from PySide6.QtWidgets import QComboBox

    fresh = QComboBox()  # what the style needs to show the choice whole: text, frame and arrow
    qtbot.addWidget(fresh)
    fresh.addItem(label)
    qtbot.wait(50)  # the layout settles
    assert view.checkpoint.width() >= fresh.sizeHint().width(), "the model picker clips its own choice"



def test_at_1024_wide_the_heading_and_model_picker_are_not_clipped(store, window, qtbot):
    """Seen on Xvfb with the window at 1024x700: the heading read 'Playground · Run 5 · tir' and
    the model picker 'Final mo', squeezed by the status and Unload beside them."""
    from PySide6.QtWidgets import QComboBox

    run = _run(store, "diffusion-lora", "tiny-diffusion-lora")
    window.resize(1024, 700)
    runs_view = window.show_view("runs")
    runs_view.open_playground(run.id)
    view = runs_view.playground
    qtbot.waitUntil(lambda: view.opening is None)
    view.status.setText("Loaded on CPU · 4.7 MiB")
    fresh = QComboBox()
    qtbot.addWidget(fresh)
    fresh.addItem(view.checkpoint.currentText())
    qtbot.wait(50)
    assert window.width() == 1024
    assert view.heading.width() >= view.heading.sizeHint().width(), view.heading.text()
    assert view.checkpoint.width() >= fresh.sizeHint().width(), "the model picker clips its own choice"
    assert view.status.width() >= view.status.sizeHint().width()
    assert view.unload_button.geometry().right() <= view.width()


@pytest.mark.parametrize(("reason", "said"), [
    ("shutdown", "Unloaded. It loads again with the next prompt."),  # the app's own Unload
    ("idle for 600 s", "Unloaded (idle for 600 s). It loads again with the next prompt."),
    ("training run 7 needs GPU 0", "Unloaded (training run 7 needs GPU 0). It loads again with the next prompt."),
])
def test_the_status_line_says_why_the_model_went_in_words(store, ctx, qtbot, reason, said):
    # Seen after Unload: "Unloaded: shutdown. It loads again…", the server's reply code on screen.
    view = _opened(store, ctx, qtbot, "causal-lm")
    view._on_event({"event": "unloaded", "reason": reason, "run": None, "run_gone": False})  # as the server says it
    assert view.status.text() == said
