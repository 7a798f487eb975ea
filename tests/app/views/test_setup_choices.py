"""The setup form offers, for each recipe, only the datasets and base models it can use; the others
are greyed out with the recipe's reason as their tooltip (the same words submit refuses them with)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.model_sync import sync_model
from tests.app.typed import typed


def _datasets(store, tmp_path: Path) -> None:
    """What a user has after a few drops: chat-style text, a labelled table, class folders, captioned
    images, a manifest of image paths with labels, and a CSV of image paths with captions."""
    projects.create(store, "p")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.jsonl").write_text("".join(json.dumps({"prompt": f"q{i}", "completion": f"a{i}"}) + "\n"
                                             for i in range(4)))
    (src / "tickets.csv").write_text("text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(4)))
    for c, colour in (("cat", (200, 30, 30)), ("dog", (30, 30, 200))):
        (src / "pets" / c).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 40), (colour[0], 20 * i, colour[2])).save(src / "pets" / c / f"{i}.png")
    (src / "shots").mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (90 * i, 60, 60)).save(src / "shots" / f"{i}.png")
        (src / "shots" / f"{i}.txt").write_text("a picture")
    (src / "pets.jsonl").write_text("".join(json.dumps({"path": f"pets/{c}/{i}.png", "label": c}) + "\n"
                                            for c in ("cat", "dog") for i in range(2)))
    (src / "shots.csv").write_text("path,caption\n" + "".join(f"shots/{i}.png,picture {i}\n" for i in range(2)))
    for name, path in (("train", "train.jsonl"), ("tickets", "tickets.csv"), ("pets", "pets"),
                       ("shots", "shots"), ("pet-list", "pets.jsonl"), ("shot-list", "shots.csv")):
        ingest_paths(store, [src / path], project="p", name=name)


def _models(models_dir: Path) -> None:
    """A text model with its tokenizer, a vision model with its image processor, a diffusers pipeline
    and a text model saved without a tokenizer (only the files the form looks at)."""
    for name, files in (("tiny-gpt", ("config.json", "tokenizer.json")),
                        ("tiny-vit", ("config.json", "preprocessor_config.json")),
                        ("tiny-sd", ("model_index.json",)), ("bare-gpt", ("config.json",))):
        (models_dir / name).mkdir(parents=True)
        for file in files:
            (models_dir / name / file).write_text("{}")


EXPECTED = {  # recipe: (datasets offered, models offered)
    "causal-lm": (["train", "tickets"], ["tiny-gpt"]),
    "text-classification": (["tickets"], ["tiny-gpt"]),
    "image-classification": (["pets", "pet-list"], ["tiny-vit"]),
    "diffusion-lora": (["shots", "shot-list"], ["tiny-sd"]),
}


def _split(box) -> tuple[list[str], dict[str, str]]:
    """(enabled choices, {greyed choice: its tooltip})."""
    enabled, greyed = [], {}
    for i in range(box.count()):
        if box.model().item(i).isEnabled():
            enabled.append(Path(box.itemText(i)).name)
        else:
            greyed[Path(box.itemText(i)).name] = box.itemData(i, 3)
    return enabled, greyed


@pytest.mark.parametrize("recipe", list(EXPECTED))
def test_each_recipe_is_offered_only_what_it_can_use(recipe, store, ctx, qtbot, tmp_path) -> None:
    from app.views.experiment_setup_view import ExperimentSetupView

    _datasets(store, tmp_path)
    _models(store.home.models_dir)
    sync_model(qtbot, ctx)
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    view.project.setCurrentText("p")
    view._on_project()
    qtbot.waitUntil(lambda: view.base_model.count() >= 4, timeout=15_000)
    view.recipe.setCurrentText(recipe)
    qtbot.waitUntil(lambda: not view.reading_facts, timeout=15_000)  # the datasets' counts, read on the pool

    datasets_offered, datasets_greyed = _split(view.dataset)
    models_offered, models_greyed = _split(view.base_model)
    models_offered = [m for m in models_offered if (store.home.models_dir / m).is_dir()]  # not the HF cache's
    assert (datasets_offered, models_offered) == EXPECTED[recipe]
    assert sorted(datasets_offered + list(datasets_greyed)) == ["pet-list", "pets", "shot-list", "shots", "tickets",
                                                                "train"]
    assert all(tip.startswith(f"Not for {recipe}: ") for tip in [*datasets_greyed.values(), *models_greyed.values()])
    if recipe == "image-classification":  # what the colleague saw offered: a prompt/completion table
        assert datasets_greyed["train"].startswith("Not for image-classification: its records have no 'path' "
                                                   "field (recipe_config.image_column); fields: completion, prompt")
        assert "none of its 2 images has a label" in datasets_greyed["shots"]
        assert models_greyed["tiny-gpt"].startswith("Not for image-classification: it has no image processor")
    if recipe == "causal-lm":
        assert "it is a diffusers pipeline" in models_greyed["tiny-sd"]
        assert "it has no tokenizer" in models_greyed["bare-gpt"]
    if os.environ.get("SPARK_SHOTS"):  # for a look at the form: SPARK_SHOTS=folder
        view.grab().save(str(Path(os.environ["SPARK_SHOTS"]) / f"setup-{recipe}.png"))
        for box in (view.dataset, view.base_model):  # the open lists, greyed entries included
            box.showPopup()
            box.view().window().grab().save(str(Path(os.environ["SPARK_SHOTS"]) / f"list-{recipe}-{box is view.dataset}.png"))
            box.hidePopup()


def test_a_column_setting_makes_a_greyed_dataset_fit_and_a_greyed_pick_says_why(store, ctx, qtbot,
                                                                                tmp_path) -> None:
    from app.views.experiment_setup_view import ExperimentSetupView

    projects.create(store, "p")
    rows = tmp_path / "reviews.jsonl"
    rows.write_text("".join(json.dumps({"review": f"r {i}", "label": i % 2}) + "\n" for i in range(6)))
    ingest_paths(store, [rows], project="p", name="reviews")
    sync_model(qtbot, ctx)
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.project.setCurrentText("p")
    view._on_project()
    view.recipe.setCurrentText("text-classification")
    qtbot.waitUntil(lambda: not view.reading_facts, timeout=15_000)
    assert _split(view.dataset)[0] == []
    view.dataset.setCurrentText("reviews")  # typed in anyway: said under Dataset
    qtbot.waitUntil(lambda: not view.checking and bool(view.errors["dataset"].text()), timeout=15_000)
    assert "its records have no 'text' field (recipe_config.text_column)" in view.errors["dataset"].text()
    if os.environ.get("SPARK_SHOTS"):
        view.resize(1280, 800)
        view.grab().save(str(Path(os.environ["SPARK_SHOTS"]) / "setup-greyed-pick.png"))

    view.forms["recipe_config"].set_values({"text_column": "review"})
    view.forms["recipe_config"].changed.emit()
    assert _split(view.dataset)[0] == ["reviews"]


def _images(folder: Path, n: int, captioned: int) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (36, 36), (i * 4 % 256, 50, 190 - i)).save(folder / f"{i:03d}.png")
        if i < captioned:
            (folder / f"{i:03d}.txt").write_text(f"picture {i}")
    return folder


def test_images_whose_later_rows_lack_captions_are_greyed_with_counts_and_old_datasets_still_work(
        store, ctx, qtbot, tmp_path, monkeypatch) -> None:
    """A dataset whose first image has a caption and the others none was offered for diffusion-lora
    (the form read the first manifest row) and refused only at Launch. Now the counts of every row,
    stored at ingestion, grey it out with them. A dataset ingested before (no counts) was scanned on
    the GUI thread at every look; now it is counted once, on the pool, and its counts stored."""
    import threading

    from app.views.experiment_setup_view import ExperimentSetupView
    from spark_trainer.recipes import fit
    from spark_trainer.store import dataset_counts, datasets
    from spark_trainer.store.models import DatasetRow

    projects.create(store, "p")
    ingest_paths(store, [_images(tmp_path / "first-only", 80, 1)], project="p", name="first-only")
    ingest_paths(store, [_images(tmp_path / "all", 80, 80)], project="p", name="all")
    old = ingest_paths(store, [_images(tmp_path / "old", 40, 1)], project="p", name="old").dataset
    old_full = ingest_paths(store, [_images(tmp_path / "old-all", 40, 40)], project="p", name="old-all").dataset
    with store.write() as session:  # as a home from before the counts were stored has them
        for dataset in (old, old_full):
            row = session.get(DatasetRow, dataset.id)
            row.meta = {k: v for k, v in row.meta.items() if k != "fields"}
    counted: list[tuple[str, bool]] = []  # (the dataset folder counted, on the GUI thread?)
    real_count, real_facts = dataset_counts.count_manifest, fit.dataset_facts
    asked_on_gui: list[str] = []

    def count(manifest):
        counted.append((manifest.parent.name, threading.current_thread() is threading.main_thread()))
        return real_count(manifest)

    def facts(store_, ds):
        if threading.current_thread() is threading.main_thread():
            asked_on_gui.append(ds.name)
        return real_facts(store_, ds)

    monkeypatch.setattr(dataset_counts, "count_manifest", count)
    monkeypatch.setattr("app.views.setup_choices.dataset_facts", facts)
    sync_model(qtbot, ctx)
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.project.setCurrentText("p")
    view._on_project()
    view.recipe.setCurrentText("diffusion-lora")
    # Before the pool's answer is delivered (nothing has run the event loop yet), the counts stored
    # with a dataset already judge it: it is not offered for a moment and then greyed out.
    early_offered, early_greyed = _split(view.dataset)
    assert "first-only" in early_greyed and "all" in early_offered
    assert view.reading_facts
    qtbot.waitUntil(lambda: not view.reading_facts, timeout=15_000)
    assert asked_on_gui == []  # no dataset's facts, stored or counted, read on the GUI thread
    assert sorted(counted) == [(str(old.id), False), (str(old_full.id), False)]  # the old ones, once each, off it
    assert datasets.get(store, old.id).meta["fields"]["filled"] == {"caption": 1}  # stored: never counted again
    offered, greyed = _split(view.dataset)
    assert offered == ["all", "old-all"]
    assert greyed["first-only"].startswith(
        "Not for diffusion-lora: only 1 of 80 images has a caption (missing on first-only/001.png, "
        "first-only/002.png, first-only/003.png, first-only/004.png, first-only/005.png and 74 more); "
        "diffusion-lora needs a caption for every image"), greyed["first-only"]
    assert greyed["old"].startswith("Not for diffusion-lora: only 1 of 40 images has a caption"), greyed["old"]

    view.dataset.setCurrentText("first-only")  # typed in anyway: said under Dataset, in submit's words
    qtbot.waitUntil(lambda: not view.checking and bool(view.errors["dataset"].text()), timeout=15_000)
    assert "only 1 of 80 images has a caption" in view.errors["dataset"].text()
    if os.environ.get("SPARK_SHOTS"):
        view.grab().save(str(Path(os.environ["SPARK_SHOTS"]) / "setup-captions-counted.png"))
        view.dataset.showPopup()
        view.dataset.view().window().grab().save(str(Path(os.environ["SPARK_SHOTS"]) / "list-captions-counted.png"))
        view.dataset.hidePopup()

    view.forms["recipe_config"].set_values({"missing_captions": "skip"})  # the others are left out: it fits
    view.forms["recipe_config"].changed.emit()
    assert _split(view.dataset)[0] == ["first-only", "all", "old", "old-all"]

    again = ExperimentSetupView(store, ctx)  # another form (or the app opened again): the stored counts
    qtbot.addWidget(again)
    again.project.setCurrentText("p")
    again._on_project()
    again.recipe.setCurrentText("diffusion-lora")
    qtbot.waitUntil(lambda: not again.reading_facts and not view.busy(), timeout=15_000)
    assert _split(again.dataset) == (offered, greyed)
    assert len(counted) == 2 and not any(on_gui for _name, on_gui in counted)


def test_the_gpus_box_starts_with_settings_default_gpus_and_follows_it_until_changed(store, ctx, qtbot) -> None:
    """Settings' Default GPUs was read by nothing: every new form said auto."""
    from app.views.experiment_setup_view import ExperimentSetupView
    from app.views.settings_view import SettingsView
    from spark_trainer.store import settings

    settings.set_value(store, "default_gpus", "cpu")
    form = ExperimentSetupView(store, ctx)
    qtbot.addWidget(form)
    qtbot.waitUntil(lambda: form.gpus.currentText() == "cpu", timeout=10_000)  # read on the pool
    assert form.config_data()["gpus"] == "cpu"

    chosen = SettingsView(store, ctx)  # changed in Settings while the form is open: it follows
    qtbot.addWidget(chosen)
    typed(chosen.default_gpus, "cpu:2")
    qtbot.waitUntil(lambda: form.gpus.currentText() == "cpu:2", timeout=10_000)

    form.gpus.lineEdit().clear()
    qtbot.keyClicks(form.gpus.lineEdit(), "auto")  # the user's own choice is kept
    typed(chosen.default_gpus, "cpu")
    qtbot.waitUntil(lambda: not chosen.saving, timeout=10_000)
    qtbot.wait(50)
    assert settings.get(store, "default_gpus") == "cpu" and form.gpus.currentText() == "auto"

    loaded = ExperimentSetupView(store, ctx)  # a run file saying gpus: cpu, the default's own value
    qtbot.addWidget(loaded)
    qtbot.waitUntil(lambda: loaded.gpus.currentText() == "cpu", timeout=10_000)
    loaded.set_config({"gpus": "cpu"})
    typed(chosen.default_gpus, "cpu:2")
    qtbot.waitUntil(lambda: not chosen.saving, timeout=10_000)
    qtbot.wait(50)
    assert loaded.gpus.currentText() == "cpu"  # the file's own value, not the new default


def test_the_project_box_follows_a_rename_of_the_project_it_shows(store, ctx, qtbot) -> None:
    """Seen on Xvfb: after `project rename journey journey2`, the setup form still said 'journey' (a
    project that no longer exists: Launch would create it) and refused the project's dataset 'chat' as
    'not a dataset of this project'. A name the user typed for a new project stays as typed."""
    from app.views.experiment_setup_view import ExperimentSetupView
    from spark_trainer.store import datasets

    projects.create(store, "journey")
    datasets.create(store, "journey", datasets.NewDataset(name="chat", kind="text", path=str(store.home.dataset_dir(1))))
    sync_model(qtbot, ctx)
    form = ExperimentSetupView(store, ctx)
    qtbot.addWidget(form)
    qtbot.waitUntil(lambda: form.project.currentText() == "journey")
    projects.rename(store, "journey", "journey2")
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: form.project.currentText() == "journey2", timeout=10_000)
    assert [form.dataset.itemText(i) for i in range(form.dataset.count())] == ["chat"]
    form.project.setEditText("brand-new")  # typed: a project created at Launch
    projects.create(store, "other")
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: "other" in [form.project.itemText(i) for i in range(form.project.count())])
    assert form.project.currentText() == "brand-new"


def test_the_project_box_leaves_a_project_once_it_is_deleted(store, ctx, qtbot) -> None:
    """The walk (d7.png): after Delete project 'demo', the form still said Project 'demo' (Launch would
    make it again, empty). It shows the current project instead."""
    from app.views.experiment_setup_view import ExperimentSetupView

    projects.create(store, "keep")
    doomed = projects.create(store, "demo")
    sync_model(qtbot, ctx)
    form = ExperimentSetupView(store, ctx)
    qtbot.addWidget(form)
    qtbot.waitUntil(lambda: form.project.count() == 2)
    form.project.setCurrentText("demo")
    ctx.set_current_project(None)
    projects.delete(store, doomed.id)
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: form.project.count() == 1, timeout=10_000)
    assert form.project.currentText() == "keep"


def test_a_long_model_path_shows_its_folder_name_and_the_whole_path_in_the_tooltip(store, ctx, qtbot, tmp_path):
    # Seen: the Base model box showed the end of a long path's parent ("me/models/t"), not which model.
    from PySide6.QtWidgets import QApplication

    from app.views.experiment_setup_view import ExperimentSetupView

    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1024, 640)
    view.show()
    qtbot.waitExposed(view)
    folder = store.home.models_dir / "deep" / "under" / "some" / "folders" / "tiny-llama-merged-from-run-12"
    for box, text in ((view.base_model, str(folder)), (view.dataset, str(tmp_path / "a" / "b" / "reviews.jsonl"))):
        box.setFixedWidth(160)
        box.setCurrentText(text)
        edit = box.lineEdit()
        name = Path(text).name
        qtbot.waitUntil(lambda edit=edit, text=text, name=name: edit.cursorPosition() == len(text) - len(name))
        # Painted there (a paint scrolls the line edit; on a loaded machine one processEvents was not enough)
        in_sight = lambda edit=edit: 0 <= edit.cursorRect().center().x() < edit.width() // 2  # noqa: E731
        qtbot.waitUntil(in_sight, timeout=5000)
        assert in_sight(), text  # the name's start is in sight
        assert text in box.toolTip()
    view.base_model.setCurrentText("Qwen/Qwen2.5-0.5B")  # a hub id fits: the whole id shows
    qtbot.waitUntil(lambda: view.base_model.lineEdit().cursorPosition() == len("Qwen/"))
    QApplication.processEvents()
    assert view.base_model.lineEdit().cursorRect().left() > 20
