"""A data home moved or copied by hand (spark_trainer/store/home_moves.py): the stored paths under the
old place, in the database and in each run's config.yaml, point at the new place on the next open;
paths outside the home and free text are left as they were."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from spark_trainer.config.yaml_io import save_yaml
from spark_trainer.paths import DataHome
from spark_trainer.store import artifacts, datasets, experiments, projects, runs
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.home_moves import KEY, _Rewrite
from spark_trainer.store.store import Store

OUTSIDE_MODEL = "/opt/models/llama"  # a base model outside the home: never rewritten


def _home_with_a_run(root: Path) -> int:
    """A home as training leaves it: a dataset and a run in their folders, a base model under models/,
    a checkpoint artifact, a run config naming both kinds of model path, and a failed run's error."""
    with Store.open(root) as store:
        projects.create(store, "p")
        ds = datasets.create(store, "p", NewDataset(name="train", kind="text",
                                                    path=str(store.home.dataset_dir(1)), num_items=1))
        model = str(store.home.models_dir / "tiny")
        exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model=model,
                                 dataset=ds.id, config={"base_model": model, "extra": [OUTSIDE_MODEL]})
        run = runs.create(store, exp.id)
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        save_yaml({"project": "p", "name": "e", "base_model": model, "dataset": "1",
                   "recipe_config": {"reference": OUTSIDE_MODEL}}, run_dir / "config.yaml")
        artifacts.add(store, run.id, "checkpoint", str(run_dir / "checkpoints" / "step-10"), step=10)
        runs.transition(store, run.id, RunStatus.STARTING, "test")
        runs.transition(store, run.id, RunStatus.FAILED, f"cannot read {run_dir}/x", error=f"cannot read {run_dir}/x")
        assert store.moved is None
        return run.id


def _paths(root: Path, run_id: int) -> dict[str, object]:
    with Store.open(root) as store:
        run = runs.get(store, run_id)
        exp = experiments.get(store, run.experiment_id)
        return {"run_dir": run.run_dir, "dataset": datasets.get(store, 1).path, "base_model": exp.base_model,
                "config": exp.config, "artifact": artifacts.list_for(store, run_id)[0].path, "error": run.error,
                "moved": store.moved,
                "yaml": yaml.safe_load((Path(run.run_dir) / "config.yaml").read_text(encoding="utf-8"))}


@pytest.mark.parametrize("name", ["home", "données ü"])  # JSON columns write "ü" as \u00fc
def test_a_moved_home_points_its_runs_datasets_models_and_configs_at_the_new_place(tmp_path: Path, name: str) -> None:
    old, new = tmp_path / "old-disk" / name, tmp_path / "new-disk" / name
    run_id = _home_with_a_run(old)
    new.parent.mkdir()
    shutil.move(old, new)

    with Store.open(new) as store:
        assert store.moved is not None and store.moved.old_root == str(old)
        assert store.moved.configs == 1
        assert "moved here from" in store.moved.describe()
    seen = _paths(new, run_id)
    assert seen["run_dir"] == str(new / "runs" / str(run_id))
    assert seen["dataset"] == str(new / "datasets" / "1")
    assert seen["base_model"] == str(new / "models" / "tiny")
    assert seen["config"] == {"base_model": str(new / "models" / "tiny"), "extra": [OUTSIDE_MODEL]}
    assert seen["artifact"] == str(new / "runs" / str(run_id) / "checkpoints" / "step-10")
    assert seen["yaml"]["base_model"] == str(new / "models" / "tiny")
    assert seen["yaml"]["recipe_config"] == {"reference": OUTSIDE_MODEL}
    # Free text records what happened where; it is not a path to follow.
    assert seen["error"] == f"cannot read {old / 'runs' / str(run_id)}/x"
    assert seen["moved"] is None  # done once: the next open finds the home where it was left


def test_a_copied_home_points_at_itself_and_the_original_is_untouched(tmp_path: Path) -> None:
    original, copy = tmp_path / "home", tmp_path / "backup"
    run_id = _home_with_a_run(original)
    shutil.copytree(original, copy)

    copied = _paths(copy, run_id)
    assert copied["run_dir"] == str(copy / "runs" / str(run_id))  # resuming it writes into the copy
    assert copied["yaml"]["base_model"] == str(copy / "models" / "tiny")
    kept = _paths(original, run_id)
    assert kept["moved"] is None
    assert kept["run_dir"] == str(original / "runs" / str(run_id))
    assert kept["yaml"]["base_model"] == str(original / "models" / "tiny")


def test_a_home_from_before_the_record_is_found_from_its_run_and_dataset_folders(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    run_id = _home_with_a_run(old)
    with sqlite3.connect(old / "sparktrainer.db") as db:  # as an older SparkTrainer left it
        db.execute("DELETE FROM settings WHERE key = ?", (KEY,))
    shutil.move(old, new)

    seen = _paths(new, run_id)
    assert seen["run_dir"] == str(new / "runs" / str(run_id))
    assert seen["base_model"] == str(new / "models" / "tiny")


def test_the_same_folder_under_another_name_is_not_a_move(tmp_path: Path) -> None:
    real = tmp_path / "home"
    run_id = _home_with_a_run(real)
    alias = tmp_path / "alias"
    os.symlink(real, alias)

    with Store.open(DataHome(alias)) as store:  # as a bind mount would present it: not resolved away
        assert store.moved is None
        assert runs.get(store, run_id).run_dir == str(real / "runs" / str(run_id))


def test_only_whole_paths_under_the_old_home_are_rewritten() -> None:
    rewrite = _Rewrite("/data/home", "/data/home/moved")
    assert rewrite.path("/data/home") == "/data/home/moved"
    assert rewrite.path("/data/home/runs/1") == "/data/home/moved/runs/1"
    assert rewrite.path("/data/home/moved/runs/1") == "/data/home/moved/runs/1"  # already there
    assert rewrite.path("/data/homework/x") == "/data/homework/x"  # another folder sharing the prefix
    assert rewrite.path("see /data/home/runs/1") == "see /data/home/runs/1"
    assert rewrite.value({"a": ["/data/home/m", 3, None]}) == {"a": ["/data/home/moved/m", 3, None]}


def test_a_moved_home_with_nothing_stored_under_it_says_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "old") as store:
        projects.create(store, "p")
    shutil.move(tmp_path / "old", tmp_path / "new")
    with Store.open(tmp_path / "new") as store:
        assert store.moved is None
        assert projects.list_all(store)[0].name == "p"
