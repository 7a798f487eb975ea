"""A run never inherits another run's files (issue 14, item 0): ids are never reused, a submit
never adopts an existing folder, and a worker never trains in a folder owned by another run."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from spark_trainer.errors import Conflict
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import list_checkpoints, read_identity, read_state
from tests.worker_here import queued_only, work_here


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _train_here(store: Store, path: Path):
    """Submit the run file and train it by the worker's own code in this process (tests/worker_here.py)."""
    from spark_trainer.config import load_config
    from spark_trainer.jobs.submit import submit_config

    run = submit_config(store, load_config(path), base_dir=path.parent).run
    assert work_here(store, run.id) == 0
    return runs.get(store, run.id)


def test_deleted_experiment_kept_folder_is_never_adopted(store: Store, cli, run_file) -> None:
    """Both runs are trained by the worker's code in this process: the old one's folder is what matters,
    and the new one's worker checks whose folder it trains in (the worker process itself: lifecycle tests)."""
    old = _train_here(store, run_file("old", steps=4, ckpt_every=2))
    assert old.status == RunStatus.COMPLETED and old.step == 4
    old_dir = Path(old.run_dir)
    assert read_state(list_checkpoints(old_dir)[-1])["run_uuid"] == old.uuid == read_identity(old_dir)
    before = _snapshot(old_dir)
    assert cli("exp", "delete", "old", "--keep-files").code == 0  # run rows gone, folder kept
    assert old_dir.is_dir()

    with queued_only():
        second = cli("--json", "train", str(run_file("new", steps=3, ckpt_every=2)))
    assert second.code == 0, second.err
    assert work_here(store, second.json()["id"]) == 0, runs.events(store, second.json()["id"])
    new = runs.get(store, second.json()["id"])
    assert new.id > old.id and new.run_dir != old.run_dir
    assert new.status == RunStatus.COMPLETED and new.step == 3
    assert sorted({m.step for m in metrics.read(store, new.id, keys=["loss"])}) == [1, 2, 3]  # from step 0
    assert _snapshot(old_dir) == before  # the kept folder is untouched


def test_submit_refuses_a_folder_left_by_a_replaced_database(home: Path, run_file, cli) -> None:
    """The folder is a trained run's (trained in this process: no worker needed to leave one behind)."""
    with Store.open(home) as store:
        _train_here(store, run_file("a", steps=2, ckpt_every=2))
    kept = home / "runs" / "1"
    assert list_checkpoints(kept)
    before = _snapshot(kept)
    (home / "sparktrainer.db").unlink()
    for extra in ("-wal", "-shm"):
        (home / f"sparktrainer.db{extra}").unlink(missing_ok=True)

    again = cli("train", str(run_file("a", steps=2, ckpt_every=2)))
    assert again.code == 2
    assert f"run folder {kept} already exists" in again.err and again.err.count("\n") == 1
    assert _snapshot(kept) == before
    with Store.open(home) as fresh:
        assert runs.list_all(fresh) == []  # nothing half-recorded


def test_ids_are_never_reused(store: Store) -> None:
    from spark_trainer.store import experiments, projects

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    first = runs.create(store, exp.id)
    runs.delete(store, first.id)
    Path(first.run_dir).rmdir()
    assert runs.create(store, exp.id).id == first.id + 1
    db = sqlite3.connect(store.home.db_path)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'")}
    db.close()
    assert tables == {"projects", "datasets", "experiments", "runs", "run_events", "metrics", "artifacts",
                      "exports", "evaluations"}  # the last two since 0009


def test_worker_refuses_a_folder_owned_by_another_run(store: Store, run_file) -> None:
    from spark_trainer.config import load_config
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.training.checkpoints import write_identity
    from tests.jobs.conftest import finished, wait_until

    path = run_file("x", steps=2)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    write_identity(Path(run.run_dir), 999, "someone-else")
    schedule_once(store, machine=[])
    ended = wait_until(store, run.id, finished, reconcile_too=True)
    assert ended.status == RunStatus.FAILED and "belongs to another run" in ended.error
    assert read_identity(Path(run.run_dir)) == "someone-else"
    assert not (Path(run.run_dir) / "checkpoints").exists()


def test_create_refuses_an_existing_folder(store: Store) -> None:
    from spark_trainer.store import experiments, projects

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    (store.home.root / "runs" / "1").mkdir(parents=True)
    with pytest.raises(Conflict, match="already exists"):
        runs.create(store, exp.id)
    assert runs.list_all(store) == []
