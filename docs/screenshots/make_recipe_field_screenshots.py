"""Render each recipe's settings in the experiment setup form, filled by cloning a run written
before `seq_len` and `sample_prompts` moved into recipe_config: the old values show in the recipe's
own section (causal-lm: seq_len and sample_prompts; text-classification: sample_texts;
diffusion-lora: sample_prompts; image-classification: neither).

Builds tiny local models and small datasets in a temporary data home (no training), then renders
offscreen to docs/screenshots/recipe-settings-<recipe>.png, and the top of the causal-lm form (its
Training section, which no longer has seq_len) to experiment-setup.png.

Run: .venv/bin/python docs/screenshots/make_recipe_field_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OLD_EVAL = {"every_steps": 20, "samples_every_steps": 40}


def fill(home: Path) -> dict[str, int]:
    """One cancelled run per recipe whose stored config has the old layout; returns their ids."""
    sys.path.insert(0, str(ROOT))
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier, create_tiny_text_classifier
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline, write_captioned_images
    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.store import Store
    from tests.recipes.helpers import TOPICS, make_image_folders, ticket_rows, write_jsonl

    models, data = home / "models", home.parent / "data"
    data.mkdir(parents=True, exist_ok=True)
    setups = {
        "causal-lm": (create_tiny_causal_lm(models / "tiny-llama"), ROOT / "resources" / "demo" / "train.jsonl",
                      {"seq_len": 256}, {"sample_prompts": ["Count up from 3:", "What is 2 plus 5?"]}),
        "text-classification": (create_tiny_text_classifier(models / "tiny-bert", corpus=list(TOPICS.values())),
                                write_jsonl(data / "tickets.jsonl", ticket_rows(60)), {"seq_len": 256},
                                {"sample_prompts": ["my card was charged twice", "the app crashes on start"]}),
        "image-classification": (create_tiny_image_classifier(models / "tiny-vit", num_labels=3),
                                  make_image_folders(data / "shapes", per_class=4), {"seq_len": 256}, {}),
        "diffusion-lora": (create_tiny_sd_pipeline(models / "tiny-sd"), write_captioned_images(data / "captioned", 8),
                           {}, {"sample_prompts": ["a red circle on a blue background"]}),
    }
    ids = {}
    with Store.open(home) as store:
        projects.create(store, "shots")
        for recipe, (model, source, old_train, old_eval) in setups.items():
            dataset = ingest_paths(store, [source], project="shots", name=recipe).dataset
            config = {"project": "shots", "name": f"old-{recipe}", "recipe": recipe, "base_model": str(model),
                      "dataset": str(dataset.id), "gpus": "cpu",
                      "train": {"max_steps": 200, "batch_size": 8, **old_train},
                      "eval": {**OLD_EVAL, **old_eval}, "recipe_config": {}}
            exp = experiments.create(store, project="shots", name=f"old-{recipe}", recipe=recipe,
                                     base_model=str(model), dataset=dataset.id, config=config)
            run = runs.create(store, exp.id, requested_gpus="cpu")
            runs.transition(store, run.id, RunStatus.CANCELLED, "screenshot fixture: never trained")
            ids[recipe] = run.id
    return ids


def render(home: Path, run_ids: dict[str, int], out: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QScrollArea

    from app.main_window import MainWindow
    from app.screenshot import OPTIONS, TARGETS, settle
    from app.theme import use_fusion
    from spark_trainer.store.store import Store

    app = QApplication.instance() or QApplication([])
    use_fusion(app)
    store = Store.open(home)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "gui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, settings, restore_state=False)
    window.resize(1280, 900)
    window.show()
    for recipe, run_id in run_ids.items():
        OPTIONS["run"] = run_id
        TARGETS["experiment-setup"](window)
        setup = window.views["experiments"]
        settle(1.0)
        scroll = next(a for a in setup.findChildren(QScrollArea) if a.isAncestorOf(setup.recipe_box))
        if recipe == "causal-lm":
            scroll.verticalScrollBar().setValue(0)
            settle(0.5)
            window.grab().save(str(out / "experiment-setup.png"))
            print(f"wrote {out / 'experiment-setup.png'}")
        scroll.verticalScrollBar().setValue(setup.recipe_box.y() - 10)
        settle(0.5)
        target = out / f"recipe-settings-{recipe}.png"
        window.grab().save(str(target))
        print(f"wrote {target}")
    window.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="spark-field-shots-")) / "home"
    run_ids = fill(home)
    args.out.mkdir(parents=True, exist_ok=True)
    render(home, run_ids, args.out)


if __name__ == "__main__":
    main()
