"""The GUI follows the recipe: the setup form offers only datasets the recipe can train on, the
run detail's Evaluation tab shows a classification report and its confusion matrix, image samples
show as pictures, and the welcome panel offers a demo per recipe."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from spark_trainer.ingest import ingest_paths
from spark_trainer.recipes.classification import confusion_image
from spark_trainer.store import artifacts, experiments, projects, runs
from tests.app.model_sync import sync_model


def _datasets(store, tmp_path: Path) -> None:
    projects.create(store, "p")
    text = tmp_path / "tickets.jsonl"
    text.write_text("".join(json.dumps({"text": f"t {i}", "label": i % 2}) + "\n" for i in range(6)))
    ingest_paths(store, [text], project="p", name="tickets")
    for name in ("cat", "dog"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        Image.new("RGB", (40, 40), (200, 10, 10) if name == "cat" else (10, 10, 200)).save(tmp_path / "pets" / name / "0.png")
    ingest_paths(store, [tmp_path / "pets"], project="p", name="pets")


def test_setup_form_offers_only_datasets_of_the_recipes_kinds(store, ctx, qtbot, tmp_path):
    from app.views.experiment_setup_view import ExperimentSetupView

    _datasets(store, tmp_path)
    sync_model(qtbot, ctx)
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.project.setCurrentText("p")
    view._on_project()

    def offered() -> list[str]:  # selectable (the others are greyed out, with the reason)
        return sorted(view.dataset.itemText(i) for i in range(view.dataset.count())
                      if view.dataset.model().item(i).isEnabled())

    view.recipe.setCurrentText("text-classification")
    qtbot.waitUntil(lambda: not view.reading_facts, timeout=15_000)  # the datasets' counts, read on the pool
    assert offered() == ["tickets"]
    assert "label_column" in view.forms["recipe_config"].rows
    view.recipe.setCurrentText("image-classification")
    # A text table is offered only when its rows name an image (a manifest of image paths): these do not.
    assert offered() == ["pets"]
    assert "num_workers" in view.forms["recipe_config"].rows


def test_evaluation_tab_and_image_samples(store, ctx, qtbot, tmp_path):
    from app.views.run_detail_view import RunDetailView

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="image-classification", base_model="m",
                             dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    folder = tmp_path / "eval"
    folder.mkdir()
    report = {"step": 10, "metrics": {"eval_accuracy": 0.75, "eval_macro_f1": 0.7, "eval_loss": 0.5},
              "labels": ["cat", "dog"], "confusion": [[2, 1], [0, 1]], "examples": 4,
              "per_class": {"cat": {"precision": 1.0, "recall": 0.667, "f1": 0.8, "support": 3},
                            "dog": {"precision": 0.5, "recall": 1.0, "f1": 0.667, "support": 1}},
              "skipped_images": [{"path": "/data/pets/cat/broken.png", "reason": "cannot identify image file"}]}
    (folder / "r.json").write_text(json.dumps(report))
    confusion_image([[2, 1], [0, 1]], ["cat", "dog"]).save(folder / "c.png")
    artifacts.add(store, run.id, "eval_report", str(folder / "r.json"), step=10)
    artifacts.add(store, run.id, "eval_image", str(folder / "c.png"), step=10, meta={"name": "confusion"})
    samples = tmp_path / "samples"
    samples.mkdir()
    Image.new("RGB", (30, 30), "red").save(samples / "step-00000010-00.png")
    (samples / "step-00000010.json").write_text(json.dumps({"step": 10, "samples": [
        {"prompt": "0.png", "caption": "predicted cat (0.90); true cat", "image": "step-00000010-00.png"}]}))
    artifacts.add(store, run.id, "sample", str(samples / "step-00000010.json"), step=10)

    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    panel = view.eval_report
    qtbot.waitUntil(lambda: "accuracy" in panel.title.text())  # read on the pool when the run shows
    assert "accuracy 0.750" in panel.title.text() and panel.table.rowCount() == 2
    assert panel.table.item(0, 0).text() == "cat" and panel.table.item(1, 2).text() == "1.000"
    assert not panel.picture.pixmap().isNull()
    assert not panel.skipped.isHidden()
    assert panel.skipped.text() == "1 image skipped, not trained or evaluated: broken.png (cannot identify image file)"
    texts = [w.text() for w in view.samples.findChildren(type(panel.title))]
    assert any("predicted cat" in t for t in texts)
    assert any(w.pixmap() is not None and not w.pixmap().isNull() for w in view.samples.findChildren(type(panel.title)))


def test_welcome_panel_offers_a_demo_per_recipe(store, ctx, qtbot):
    from app.views.welcome_panel import WelcomePanel

    panel = WelcomePanel(store, ctx)
    qtbot.addWidget(panel)
    recipes = [panel.demo_choice.itemData(i) for i in range(panel.demo_choice.count())]
    assert recipes[:3] == ["causal-lm", "text-classification", "image-classification"]


def test_text_only_fields_show_in_the_recipes_that_have_them_and_an_old_run_clones_with_them(store, ctx, qtbot):
    from app.views.experiment_setup_view import ExperimentSetupView
    from spark_trainer.jobs.clone import clone_config

    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    assert "seq_len" not in view.forms["train"].rows and "sample_prompts" not in view.forms["eval"].rows
    shown = {}
    for recipe in ("causal-lm", "text-classification", "image-classification", "diffusion-lora"):
        view.recipe.setCurrentText(recipe)
        shown[recipe] = {"seq_len", "sample_prompts", "sample_texts"} & set(view.forms["recipe_config"].rows)
    assert shown == {"causal-lm": {"seq_len", "sample_prompts"}, "text-classification": {"sample_texts"},
                     "image-classification": set(), "diffusion-lora": {"sample_prompts"}}

    # A run frozen before the fields moved: cloning it keeps its values, now in the recipe's section.
    projects.create(store, "p")
    old = {"project": "p", "name": "old", "recipe": "causal-lm", "base_model": "m", "dataset": "d",
           "train": {"max_steps": 5, "seq_len": 96}, "eval": {"sample_prompts": ["Count up from 3:"]},
           "recipe_config": {"method": "lora"}}
    exp = experiments.create(store, project="p", name="old", recipe="causal-lm", base_model="m", dataset=None, config=old)
    run = runs.create(store, exp.id, requested_gpus="cpu")
    view.open_item({"clone": clone_config(store, run)})
    data = view.config_data()
    assert data["recipe_config"]["seq_len"] == 96 and data["recipe_config"]["sample_prompts"] == ["Count up from 3:"]
    assert "seq_len" not in data["train"] and data["train"]["max_steps"] == 5
