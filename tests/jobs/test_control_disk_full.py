"""`run delete` on a data home whose disk has no byte left (a real tmpfs): the database cannot be written
until there is room, so the run's folder goes first and the record's delete then has the room it needs."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.jobs import control
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def _run_with_a_folder(store: Store, experiment: str, status: RunStatus, size: int = 2**20) -> tuple[int, Path]:
    """Experiment `experiment` of project p with one run in `status`, its folder holding `size` bytes."""
    exp = experiments.create(store, project="p", name=experiment, recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    runs.transition(store, run.id, status, "test")
    folder = Path(run.run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoint.bin").write_bytes(b"\1" * size)
    return run.id, folder


def test_deleting_a_run_on_a_full_disk_frees_its_folder_and_deletes_it(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 8 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        run_id, folder = _run_with_a_folder(store, "e", RunStatus.CANCELLED, 2 * 2**20)
    fill(home)
    with Store.open(home) as store:
        assert store.full is not None
        control.delete(store, run_id)
        assert runs.list_all(store) == [] and not folder.exists()
        raw = store.engine.raw_connection()
        try:
            assert raw.driver_connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            raw.close()


def test_deleting_an_experiment_on_a_full_disk_frees_its_run_folders_and_deletes_it(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 8 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        folder = _run_with_a_folder(store, "e", RunStatus.CANCELLED)[1]
        kept = _run_with_a_folder(store, "other", RunStatus.CANCELLED)[1]
    fill(home)
    with Store.open(home) as store:
        assert store.full is not None
        experiment, on_disk = control.delete_experiment(store, "e")
        assert experiment.name == "e" and on_disk == [str(folder)] and not folder.exists()
        assert [e.name for e in experiments.list_all(store)] == ["other"] and (kept / "checkpoint.bin").exists()


def test_deleting_a_project_on_a_full_disk_frees_its_folders_and_deletes_it(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    from spark_trainer.jobs.deletion import project_folders

    home = tmpfs(tmp_path / "home", 8 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        folder = _run_with_a_folder(store, "e", RunStatus.CANCELLED)[1]
    fill(home)
    with Store.open(home) as store:
        assert store.full is not None
        folders = project_folders(projects.contents(store, "p"), store.home)
        assert folders == [folder]
        assert control.delete_project(store, projects.get(store, "p").id, folders, delete_files=True) == [folder]
        assert projects.list_all(store) == [] and not folder.exists()


def test_a_project_in_use_on_a_full_disk_is_refused_before_any_folder_goes(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    import pytest

    from spark_trainer.errors import Conflict

    home = tmpfs(tmp_path / "home", 8 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        folder = _run_with_a_folder(store, "e", RunStatus.STARTING)[1]  # in progress: the delete is refused
    fill(home)
    with Store.open(home) as store:
        assert store.full is not None
        with pytest.raises(Conflict):
            control.delete_project(store, projects.get(store, "p").id, [folder], delete_files=True)
        assert (folder / "checkpoint.bin").exists() and [p.name for p in projects.list_all(store)] == ["p"]
