"""Deleting a dataset, one way for the command line and the app: on a disk too full to write the
database, its folder goes first and makes the room the record's delete needs (a real tmpfs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.ingest import ingest_paths
from spark_trainer.jobs.dataset_delete import delete_dataset
from spark_trainer.store import datasets, experiments, projects
from spark_trainer.store.store import Store
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def _home_with_a_big_dataset(tmpfs, tmp_path: Path) -> tuple[Path, int]:  # noqa: F811
    home = tmpfs(tmp_path / "home", 16 * 2**20)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": f"row {i} " + "x" * 400}) + "\n" for i in range(2000)))
    with Store.open(home) as store:
        projects.create(store, "p")
        dataset = ingest_paths(store, [rows], project="p", name="big").dataset
    return home, dataset.id


def test_a_dataset_deleted_on_a_full_disk_frees_its_folder_and_its_record_goes(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    # The app's delete (which the full-disk banner names) was refused and freed nothing: only the
    # command removed the folder first.
    home, dataset_id = _home_with_a_big_dataset(tmpfs, tmp_path)
    fill(home)
    with Store.open(home) as store:
        assert store.full is not None
        folder = Path(datasets.get(store, dataset_id).path)
        deleted = delete_dataset(store, dataset_id)
        assert deleted.removed and not folder.exists() and datasets.list_all(store, "p") == []


def test_a_dataset_in_use_is_refused_on_a_full_disk_before_its_folder_goes(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home, dataset_id = _home_with_a_big_dataset(tmpfs, tmp_path)
    with Store.open(home) as store:
        experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=dataset_id,
                           config={})
    fill(home)
    with Store.open(home) as store:
        folder = Path(datasets.get(store, dataset_id).path)
        with pytest.raises(datasets.DatasetInUse):
            delete_dataset(store, dataset_id)
        assert folder.is_dir()
