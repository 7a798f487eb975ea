"""A resume after files were moved or deleted by hand: refused at once with one line naming what is
missing (exit 2, the run keeps its status), not "started" and then failed by the worker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from spark_trainer.config import load_config
from spark_trainer.jobs import control
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import datasets, runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store


@pytest.fixture
def stopped_run(store: Store, run_file, tiny_model: Path, tmp_path: Path) -> Run:
    """A cancelled run (never started) of a private copy of the tiny model, ready to be resumed."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    path = run_file("moved")
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "base_model": str(model)}))
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    return control.cancel(store, run.id)


def _refused(cli, store: Store, run: Run) -> str:
    result = cli("run", "resume", str(run.id))
    assert result.code == 2, result.out
    assert result.err.count("\n") == 1
    assert runs.get(store, run.id).status == RunStatus.CANCELLED  # nothing was queued
    return result.err


def test_base_model_moved_away(cli, store: Store, stopped_run: Run, tmp_path: Path) -> None:
    (tmp_path / "model").rename(tmp_path / "elsewhere")
    err = _refused(cli, store, stopped_run)
    assert f"run {stopped_run.id} cannot resume: its base model is gone" in err
    assert f"{tmp_path / 'model'} does not exist" in err
    (tmp_path / "elsewhere").rename(tmp_path / "model")  # put back: the resume goes through
    assert control.resume(store, stopped_run.id).status == RunStatus.QUEUED
    control.cancel(store, stopped_run.id)


def test_dataset_files_deleted_from_the_data_home(cli, store: Store, stopped_run: Run) -> None:
    dataset = datasets.list_all(store)[0]
    (Path(dataset.path) / "manifest.jsonl").unlink()
    err = _refused(cli, store, stopped_run)
    assert f"dataset {dataset.name!r} has lost its files" in err and "manifest.jsonl is gone" in err


def test_run_folder_deleted_by_hand(cli, store: Store, stopped_run: Run) -> None:
    shutil.rmtree(stopped_run.run_dir)
    err = _refused(cli, store, stopped_run)
    assert f"its folder {stopped_run.run_dir} is gone" in err and "start a new run of experiment 'moved'" in err
