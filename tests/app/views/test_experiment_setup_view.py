"""The experiment setup form, as a user fills it in: what it says before Launch, and after."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QWidget

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.model_sync import sync_model


def _reviews_and_a_model(store, tmp_path) -> str:
    """A project with a text dataset whose text is in 'review' (not the recipe's default 'text'), and a
    tiny model folder (only what the form reads)."""
    projects.create(store, "demo")
    rows = tmp_path / "reviews.jsonl"
    rows.write_text("".join(json.dumps({"review": f"r {i}", "label": i % 2}) + "\n" for i in range(6)))
    ingest_paths(store, [rows], project="demo", name="reviews")
    model = store.home.models_dir / "tiny-bert"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2,
                                                   "num_attention_heads": 2, "intermediate_size": 64,
                                                   "vocab_size": 100}))
    (model / "tokenizer_config.json").write_text("{}")  # text recipes grey out a model without a tokenizer
    return str(model)


def _setup_view(store, ctx, qtbot):
    from app.views.experiment_setup_view import ExperimentSetupView

    sync_model(qtbot, ctx)  # the form lists the app model's projects and datasets
    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    return view


def filled_form(store, ctx, qtbot, tmp_path, *, text_column: str | None = "review"):
    """The setup form filled in: text-classification of 'reviews' (`_reviews_and_a_model`) on the CPU.
    `text_column=None` leaves the recipe's default ('text'), which the dataset lacks."""
    model = _reviews_and_a_model(store, tmp_path)
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("demo")
    view.recipe.setCurrentText("text-classification")
    if text_column is not None:
        view.forms["recipe_config"].set_values({"text_column": text_column})
    view.name.setText("sentiment")
    view.base_model.setCurrentText(model)
    view.gpus.setCurrentText("cpu")
    view.dataset.setCurrentText("reviews")
    return view


def test_data_the_recipe_cannot_train_on_disables_launch_before_the_click(store, ctx, qtbot, tmp_path) -> None:
    view = filled_form(store, ctx, qtbot, tmp_path, text_column=None)
    qtbot.waitUntil(lambda: not view.checking and bool(view.errors["dataset"].text()), timeout=15_000)
    assert view.errors["dataset"].text() == ("recipe text-classification cannot train on dataset 'reviews': its "
                                             "records have no 'text' field (recipe_config.text_column); fields: "
                                             "label, review")
    assert view.errors["dataset"].isVisible()
    assert not view.launch.isEnabled()
    assert view.launch_reason.text().startswith("Cannot launch: Dataset: ")  # the field's label, not its key
    assert "text_column" in view.launch_reason.text()
    # Marked at the setting too (seen in a real-window walk: said by the dataset and Launch line only).
    field = view.forms["recipe_config"].rows["text_column"]
    assert field.error.isVisible() and field.error.text() == view.errors["dataset"].text()

    view.forms["recipe_config"].set_values({"text_column": "review"})  # the user names the column
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    assert not view.errors["dataset"].isVisible() and view.launch_reason.text() == ""
    assert not field.error.isVisible()


def test_a_lora_target_the_model_lacks_marks_its_field_and_holds_launch(store, ctx, qtbot, tmp_path) -> None:
    # The worker refused it once the queued run started; the form says it at the field, in the CLI's words.
    # Each check reads the model on the pool: 6 s alone, past 15 s once in a loaded fresh-clone suite.
    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=30_000)
    view.forms["recipe_config"].set_values({"target_modules": "query,q_proj"})
    field = view.forms["recipe_config"].rows["target_modules"]
    qtbot.waitUntil(lambda: not view.checking and field.error.isVisible(), timeout=30_000)
    assert field.error.text().startswith("'q_proj' names no module of the model; its layers are named ")
    assert not view.launch.isEnabled()
    assert view.launch_reason.text().startswith("Cannot launch: recipe_config.target_modules: 'q_proj' names no")
    view.forms["recipe_config"].set_values({"target_modules": "query,value"})
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=30_000)
    assert not field.error.isVisible()


def test_the_queued_banner_goes_once_the_next_experiment_is_filled_in(store, ctx, qtbot, tmp_path) -> None:
    """"Run N queued" stayed while the user filled in the next experiment. It says what became of the
    form as launched: it stays while the form still holds that (coming back to the view, a re-read of
    the store) and goes with the first edit. Scheduling is off in this context: the run stays queued."""
    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    view.launch_run()
    qtbot.waitUntil(lambda: view.banner.text() == "Run 1 queued", timeout=15_000)
    assert view.banner.isVisible()

    view.refresh()  # shown again (navigation refreshes the view): the form is still the launched one
    qtbot.waitUntil(lambda: not view.busy(), timeout=15_000)
    assert view.banner.isVisible() and view.banner.text() == "Run 1 queued"

    view.name.setText("sentiment-lr")  # the next experiment
    assert not view.banner.isVisible() and view.banner.text() == ""


def test_the_queued_banner_goes_once_the_run_moves_on(store, ctx, qtbot, tmp_path) -> None:
    """"Run 7 queued" stayed on the form after that run had finished (seen on a real display); it
    goes once the app model reads the run in another status."""
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus

    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    view.launch_run()
    qtbot.waitUntil(lambda: view.banner.text() == "Run 1 queued", timeout=15_000)
    sync_model(qtbot, ctx)
    assert view.banner.text() == "Run 1 queued"  # still true: it stays

    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, 1, status, "test")
    sync_model(qtbot, ctx)
    assert not view.banner.isVisible() and view.banner.text() == ""


def test_one_store_check_at_a_time_and_the_newest_form_checked_last(store, ctx, qtbot, tmp_path, monkeypatch) -> None:
    """Each pause in typing started a check on the pool while the previous one still ran. The first ones
    import torch and transformers (the memory estimate reads the model's config), and two threads
    importing torch at once broke it: the form said "Cannot check the form: ImportError: cannot import
    name 'AutoConfig'" (seen rendering `--view experiment-setup` on a loaded machine). A check asked for
    while one runs now waits for it, and only the newest form's answer is shown."""
    import threading
    import time

    from app.views import experiment_setup_view
    from app.views.setup_checks import check_setup

    lock, running, most, seen = threading.Lock(), [0], [0], []

    def slow_check(store_, data, *args):  # the real check, made slow enough for the next edit to overlap it
        if store_ is not store:  # a form an earlier test left (closed, not yet deleted) checking its own home
            return check_setup(store_, data, *args)
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.4)
            seen.append(data["name"])
            return check_setup(store_, data, *args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(experiment_setup_view, "check_setup", slow_check)
    view = filled_form(store, ctx, qtbot, tmp_path)
    for name in ("a", "ab", "abc"):  # each edit after the debounce, while the last check still runs
        qtbot.wait(experiment_setup_view.CHECK_DELAY_MS + 100)
        view.name.setText(name)
    qtbot.waitUntil(lambda: not view.checking, timeout=15_000)
    assert most[0] == 1
    assert seen[-1] == "abc"
    assert view.launch.isEnabled() and view.launch_reason.text() == ""


def frames_form(store, ctx, qtbot, tmp_path):
    """The setup form filled in: diffusion-lora (its default resolution 512) on six 64 px captioned
    frames, with a model folder holding only what the checks look at."""
    from spark_trainer.models.tiny_diffusion import write_captioned_images

    projects.create(store, "demo")
    frames = write_captioned_images(tmp_path / "frames", 6, size=64)
    ingest_paths(store, [frames], project="demo", name="frames")
    model = store.home.models_dir / "tiny-sd"
    (model / "model_index.json").parent.mkdir(parents=True)
    (model / "model_index.json").write_text("{}")
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):  # no weights
        (model / part).mkdir()
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("demo")
    view.recipe.setCurrentText("diffusion-lora")
    view.name.setText("frames-lora")
    view.base_model.setCurrentText(str(model))
    view.gpus.setCurrentText("cpu")
    view.dataset.setCurrentText("frames")
    return view


def test_images_smaller_than_the_resolution_are_warned_of_and_launch_stays_enabled(store, ctx, qtbot,
                                                                                 tmp_path) -> None:
    """diffusion-lora's default 512 on 64 px frames kept a CPU run at step 0 for over 20 minutes, said
    only in the run's log. The form says so where the resolution is chosen, in `train`'s words."""
    view = frames_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.data_warning.isVisible(), timeout=15_000)
    assert view.data_warning.text() == (
        "Warning: recipe_config.resolution 512 is larger than 6 of the dataset's 6 images (shorter side typically "
        "64 px): each is enlarged to 512 px, 64x its pixels, which slows every step and adds no detail; try "
        "recipe_config.resolution: 64 (keep 512 if the enlargement is intended)")
    assert view.launch.isEnabled() and view.launch_reason.text() == ""  # said, not refused
    view.grab().save(str(tmp_path / "setup-resolution-warning.png"))

    view.forms["recipe_config"].set_values({"resolution": 64})
    qtbot.waitUntil(lambda: not view.checking and not view.data_warning.isVisible(), timeout=15_000)
    assert view.launch.isEnabled()


def test_an_alpaca_dataset_launches_causal_lm_and_a_bad_row_is_named_before(store, ctx, qtbot, tmp_path) -> None:
    """Alpaca rows (instruction/input/output) were greyed out for causal-lm ("its records have no 'text'
    field"); now they train, and the form lists the row format and prompt template settings."""
    import os
    from pathlib import Path

    projects.create(store, "demo")
    rows = [{"instruction": f"Count up from {i}.", "input": "", "output": f"{i} {i + 1}"} for i in range(6)]
    (tmp_path / "alpaca.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest_paths(store, [tmp_path / "alpaca.jsonl"], project="demo", name="alpaca")
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(store.home.models_dir / "tiny-llama", vocab_size=300, hidden_size=32,
                                  num_layers=1, num_heads=2)
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("demo")
    view.recipe.setCurrentText("causal-lm")
    view.name.setText("alpaca-lora")
    view.base_model.setCurrentText(str(model))
    view.gpus.setCurrentText("cpu")
    view.dataset.setCurrentText("alpaca")
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    assert not view.errors["dataset"].isVisible()
    values = view.forms["recipe_config"].values()
    assert values["format"] == "auto" and "prompt_template" in values
    shots = Path(os.environ.get("SPARK_TRAINER_SHOTS", tmp_path))
    view.grab().save(str(shots / "setup-causal-lm-alpaca.png"))
    view.forms["recipe_config"].grab().save(str(shots / "setup-causal-lm-alpaca-recipe-config.png"))

    view.forms["recipe_config"].set_values({"format": "sharegpt"})  # a format the dataset is not
    qtbot.waitUntil(lambda: not view.checking and view.errors["dataset"].isVisible(), timeout=15_000)
    assert view.errors["dataset"].text() == (
        "recipe causal-lm cannot train on dataset 'alpaca': its records have no 'conversations' field "
        "(recipe_config.format: sharegpt (conversations)); fields: instruction, output")
    assert not view.launch.isEnabled()


def test_filling_a_field_in_moves_none_of_the_fields_below_it(store, ctx, qtbot, tmp_path) -> None:
    # Seen on Xvfb: choosing a dataset took its "choose a dataset..." line away, the form moved up by
    # that line, and the click meant for the Base model box landed on the line under it instead.
    from PySide6.QtCore import QPoint

    model = _reviews_and_a_model(store, tmp_path)
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("demo")
    view.recipe.setCurrentText("text-classification")
    view.forms["recipe_config"].set_values({"text_column": "review"})
    qtbot.waitUntil(lambda: not view.checking, timeout=15_000)
    qtbot.wait(50)  # laid out
    below = (view.dataset, view.base_model, view.gpus, view.forms["train"])

    def tops() -> list[int]:
        return [widget.mapTo(view, QPoint(0, 0)).y() for widget in below]

    before = tops()
    assert view.errors["name"].isVisible() and view.errors["dataset"].isVisible()
    view.name.setText("sentiment")
    view.dataset.setCurrentText("reviews")
    view.base_model.setCurrentText(model)
    qtbot.waitUntil(lambda: not view.checking, timeout=15_000)
    qtbot.wait(50)
    assert not any(view.errors[key].isVisible() for key in ("name", "dataset", "base_model"))
    assert tops() == before


def test_an_error_appearing_under_a_field_moves_none_of_the_fields_below_it(store, ctx, qtbot, tmp_path) -> None:
    # The other way round: a form filled in (say, restored) whose name is then cleared.
    from PySide6.QtCore import QPoint

    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    qtbot.wait(50)
    below = (view.recipe, view.dataset, view.base_model, view.gpus)
    before = [widget.mapTo(view, QPoint(0, 0)).y() for widget in below]
    view.name.setText("")
    qtbot.waitUntil(lambda: view.errors["name"].isVisible(), timeout=5000)
    qtbot.wait(50)
    assert [widget.mapTo(view, QPoint(0, 0)).y() for widget in below] == before


def test_the_project_box_shows_a_real_project_once_the_list_is_read(store, ctx, qtbot) -> None:
    # Seen on Xvfb: the setup form opened right after start-up (before the app's first read of the
    # projects) said "default", a project that did not exist, and kept saying it once "demo" was read.
    from app.views.experiment_setup_view import ExperimentSetupView

    projects.create(store, "demo")
    view = ExperimentSetupView(store, ctx)  # the projects not read yet
    qtbot.addWidget(view)
    view.show()
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: view.project.currentText() == "demo", timeout=5000)
    assert [view.project.itemText(i) for i in range(view.project.count())] == ["demo"]


def overlapping(root) -> list[str]:
    """Pairs of visible widgets under `root` drawn over each other (neither inside the other), and
    wrapped labels shorter than their lines need."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QLineEdit

    kinds = (QLabel, QAbstractButton, QComboBox, QLineEdit)
    shown = [w for w in root.findChildren(QWidget) if isinstance(w, kinds) and w.isVisibleTo(root)
             and w.window() is root.window() and not any(isinstance(p, kinds) for p in _parents(w, root))]
    shown = [w for w in shown if not (isinstance(w, QLabel) and not w.text())]
    rects = {w: QRect(w.mapTo(root, w.rect().topLeft()), w.size()) for w in shown}
    found = [f"{_name(a)} over {_name(b)}" for i, a in enumerate(shown) for b in shown[i + 1:]
             if rects[a].intersected(rects[b]).height() > 1 and rects[a].intersected(rects[b]).width() > 1]
    found += [f"{_name(w)} {w.height()} px < {w.heightForWidth(w.width())} px" for w in shown
              if isinstance(w, QLabel) and w.wordWrap() and w.height() < w.heightForWidth(w.width())]
    return found


def _parents(widget, root):
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        yield parent
        parent = parent.parentWidget()


def _name(widget) -> str:
    text = widget.currentText() if hasattr(widget, "currentText") else widget.text() if hasattr(widget, "text") else ""
    return f"{type(widget).__name__}({text[:30]!r})"


def test_the_side_column_fits_a_small_window_without_drawing_over_itself(store, window, qtbot) -> None:
    # Seen at 1024 x 640: the memory estimate's wrapped lines were drawn over each other and the Sweep
    # box's Setting, Values and hint over one another: the column was squeezed below what it needs.
    from app.views.memory_panel import fit_text

    window.resize(1024, 640)
    view = window.show_view("experiments")
    qtbot.waitUntil(lambda: window.width() == 1024 and window.height() == 640)
    view.sweep.add_button.click()  # a second Sweep row, with its setting, values and the setting's range
    qtbot.waitUntil(lambda: not view.checking and not view.memory_panel.busy(), timeout=15_000)
    panel = view.memory_panel
    panel.show_texts(("<b>~522.8 MiB</b> per GPU (17,408 trainable parameters)",  # as the demo's run shows it
                      "weights 288.6 KiB · trainable+optimizer 272.0 KiB · activations 4.2 MiB · logits 6.0 MiB · "
                      "overhead 512.0 MiB", fit_text({"gpus": "auto"}, store.home.root, [])))
    qtbot.wait(300)  # laid out again
    side = view.memory_panel.parentWidget()
    window.grab().save(str(store.home.root / "setup-1024.png"))
    assert overlapping(side) == []
    bottom = view.side_scroll.mapTo(view, view.side_scroll.rect().bottomLeft()).y()
    assert all(w.mapTo(view, w.rect().topLeft()).y() > bottom for w in (view.launch, view.export_cluster))
    assert view.launch.visibleRegion().boundingRect().height() == view.launch.height()  # in sight, whole


def test_a_long_project_name_does_not_make_the_form_scroll_sideways(store, window, qtbot) -> None:
    # Seen in a GUI walk: with a 76-character project anywhere in the home, the Project box asked for
    # 501 px and the form's column scrolled sideways at 1280 x 800 (and more at 1024 x 640).
    from PySide6.QtWidgets import QScrollArea

    projects.create(store, "customer-support-assistant-for-the-northern-european-region-quarterly-review")
    projects.create(store, "demo")
    sync_model(qtbot, window.ctx)
    for size in ((1280, 800), (1024, 640)):
        window.resize(*size)
        view = window.show_view("experiments")
        qtbot.waitUntil(lambda s=size, v=view: window.size().toTuple() == s and v.project.count() == 2,
                        timeout=10_000)
        qtbot.wait(100)  # laid out
        form = next(a for a in view.findChildren(QScrollArea) if a.widget().isAncestorOf(view.project))
        assert form.horizontalScrollBar().maximum() == 0, size
        for box in (view.project, view.dataset, view.base_model, view.gpus):
            assert box.sizeHint().width() < 300 and box.mapTo(form.viewport(), box.rect().topRight()).x() \
                <= form.viewport().width(), (size, box.currentText())


def test_launch_counts_every_error_of_a_form_not_one_a_form(store, ctx, qtbot, tmp_path) -> None:
    # Seen in a GUI walk: max steps 0 and learning rate -1 said "Cannot launch: train.max_steps: ..."
    # with no "(and 1 more)": only a form's first error was counted.
    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    view.forms["train"].set_values({"max_steps": 0, "learning_rate": -1})
    qtbot.waitUntil(lambda: not view.checking and not view.launch.isEnabled(), timeout=15_000)
    said = view.launch_reason.text()
    assert said == "Cannot launch: Max steps must be at least 1 (and 1 more)", said
    assert view.forms["train"].error_lines() == ["Max steps must be at least 1", "Learning rate must be greater than 0"]
    assert set(view.forms["train"].errors()) == {"max_steps", "learning_rate"}
