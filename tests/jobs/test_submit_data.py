"""A run file's `dataset:` naming a path: ingested on first use, and again once the path changed."""

from __future__ import annotations

import os
import time
from pathlib import Path

from spark_trainer.config import ExperimentConfig
from spark_trainer.jobs.submit_data import ingested_dataset, resolve_dataset
from spark_trainer.store import datasets
from spark_trainer.store.store import Store
from tests.app.gui_assets import write_image_folder


def _config(dataset: str) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"project": "q", "name": "pets", "recipe": "image-classification",
                                            "base_model": "m", "dataset": dataset})


def test_a_folder_named_in_a_run_file_is_ingested_again_once_it_changed(store: Store, tmp_path: Path) -> None:
    """`dataset: pics` is ingested as dataset `pics`: the name matched before the folder's change check, so
    after adding `pics/cat/new.png` run 2 trained on the first ingestion, with no "ingested" line."""
    pics = write_image_folder(tmp_path / "pics", per_class=4, classes=("cat", "dog"))
    first, report = resolve_dataset(store, _config("pics"), tmp_path)
    assert first.name == "pics" and report is not None
    assert resolve_dataset(store, _config("pics"), tmp_path) == (first, None)  # unchanged: reused
    assert ingested_dataset(store, _config("pics"), tmp_path) == first
    other = write_image_folder(tmp_path / "other", per_class=1, classes=("cat",), seed=7)
    added = pics / "cat" / "new.png"
    added.write_bytes(next((other / "cat").iterdir()).read_bytes())
    later = time.time() + 3600  # after the first ingestion, however coarse the file system's clock
    os.utime(added, (later, later))
    assert ingested_dataset(store, _config("pics"), tmp_path) is None  # the setup form: it will be ingested
    second, report = resolve_dataset(store, _config("pics"), tmp_path)
    assert report is not None and second.id != first.id and second.name == "pics-2"
    assert second.num_items == first.num_items + 1
    # A name that is not a path beside the run file still names the stored dataset.
    assert resolve_dataset(store, _config("pics-2"), tmp_path) == (datasets.get(store, "pics-2", "q"), None)
