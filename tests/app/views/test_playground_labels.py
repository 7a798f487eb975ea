"""The Playground's labels follow the recipe: a classifier is asked to classify, not to generate,
and the model picker shows its whole choice ("Final model", "Checkpoint step 40 (best)")."""

from __future__ import annotations

import pytest

from spark_trainer.store import experiments, projects, runs


def _run(store, recipe: str):
    from pathlib import Path

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name=recipe, recipe=recipe, base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    (Path(run.run_dir) / "final").mkdir(parents=True)
    return run


@pytest.mark.parametrize(("recipe", "action"), [("text-classification", "Classify"),
                                                ("image-classification", "Classify"),
                                                ("causal-lm", "Generate")])
def test_the_action_button_names_what_the_recipe_does(store, ctx, qtbot, recipe, action):
    from app.views.playground_view import PlaygroundView

    run = _run(store, recipe)
    view = PlaygroundView(store, ctx, idle_s=60)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    view.open_run(run.id)
    qtbot.waitUntil(lambda: view.opening is None)
    assert view.generate_button.text() == action
    label = view.checkpoint.currentText()
    assert label == "Final model"
    from PySide6.QtWidgets import QComboBox

    fresh = QComboBox()  # what the style needs to show the choice whole: text, frame and arrow
    qtbot.addWidget(fresh)
    fresh.addItem(label)
    qtbot.wait(50)  # the layout settles
    assert view.checkpoint.width() >= fresh.sizeHint().width(), "the model picker clips its own choice"
