"""`run delete` on a data home whose disk has no byte left (a real tmpfs): the database cannot be written
until there is room, so the run's folder goes first and the record's delete then has the room it needs."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.jobs import control
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, tmpfs  # noqa: F401 - the fixture


def test_deleting_a_run_on_a_full_disk_frees_its_folder_and_deletes_it(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 8 * 2**20)
    with Store.open(home) as store:
        projects.create(store, "p")
        exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                                 config={})
        run = runs.create(store, exp.id, requested_gpus="cpu")
        runs.transition(store, run.id, RunStatus.CANCELLED, "test")
        folder = Path(runs.get(store, run.id).run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoint.bin").write_bytes(b"\1" * 2 * 2**20)
    fill(home)
    with Store.open(home) as store:
        assert store.full is not None
        control.delete(store, run.id)
        assert runs.list_all(store) == [] and not folder.exists()
        raw = store.engine.raw_connection()
        try:
            assert raw.driver_connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            raw.close()
