"""The setup form offers only datasets of a kind the chosen recipe trains on, and accepts a
diffusers pipeline folder as the base model of diffusion-lora."""

from __future__ import annotations

import json
import threading

import pytest
from PIL import Image

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.model_sync import sync_model


def test_dataset_choices_follow_the_recipe(store, ctx, qtbot, tmp_path) -> None:
    from app.views.experiment_setup_view import ExperimentSetupView
    from app.views.model_sources import resolve_base_model

    projects.create(store, "p")
    (tmp_path / "notes.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    ingest_paths(store, [tmp_path / "notes.jsonl"], project="p", name="notes")
    (tmp_path / "shots").mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (90 * i, 60, 60)).save(tmp_path / "shots" / f"{i}.png")
        (tmp_path / "shots" / f"{i}.txt").write_text("a picture")
    ingest_paths(store, [tmp_path / "shots"], project="p", name="shots")

    sync_model(qtbot, ctx)  # the form lists the app model's datasets
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.project.setCurrentText("p")
    view._on_project()

    def choices() -> list[str]:  # the ones a user can pick (the others are greyed out)
        return [view.dataset.itemText(i) for i in range(view.dataset.count())
                if view.dataset.model().item(i).isEnabled()]

    view.recipe.setCurrentText("diffusion-lora")
    qtbot.waitUntil(lambda: not view.reading_facts, timeout=15_000)  # the datasets' counts, read on the pool
    assert choices() == ["shots"]
    assert view.recipe_box.title() == "Recipe settings: Diffusion LoRA"
    view.recipe.setCurrentText("causal-lm")
    assert choices() == ["notes"]

    pipeline = tmp_path / "pipe"
    pipeline.mkdir()
    (pipeline / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    assert resolve_base_model(str(pipeline), tmp_path) == (pipeline, None)


def test_a_form_closed_while_its_check_runs_drops_the_answer(store, ctx, qtbot) -> None:
    """The store and disk check answers on the GUI thread after the form is gone: nothing may touch
    the deleted widgets (pytest-qt fails the test on an exception in the event loop)."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    from app.views import experiment_setup_view as setup_view
    from app.views.experiment_setup_view import ExperimentSetupView

    gate = threading.Event()
    real = setup_view.check_setup

    def slow_check(*args):
        gate.wait(10)
        return real(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(setup_view, "check_setup", slow_check)
        view = ExperimentSetupView(store, ctx)
        view._start_check()
        task = view._check_task
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert not shiboken6.isValid(view)
        gate.set()
        qtbot.waitUntil(lambda: task.delivered, timeout=10_000)
