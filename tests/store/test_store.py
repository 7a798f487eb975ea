"""Store queries: entities out, one transaction per write, cascading deletes."""

from __future__ import annotations

import pytest

from spark_trainer.errors import BadInput, Conflict, IllegalTransition, InternalError, NotFound
from spark_trainer.store import artifacts, datasets, experiments, metrics, projects, runs, settings
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.entities import Project, RunStatus
from spark_trainer.store.store import Store


def _populate(store: Store, project: str = "demo") -> int:
    projects.create(store, project)
    ds = datasets.create(store, project, NewDataset(name="data", kind="text", path="/tmp/nowhere", num_items=3))
    exp = experiments.create(store, project=project, name="exp", recipe="causal-lm", base_model="m",
                             dataset=ds.id, config={"a": 1})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    metrics.add_batch(store, run.id, [("loss", 1, 2.0), ("loss", 2, 1.5)])
    artifacts.add(store, run.id, "checkpoint", "/tmp/ckpt", step=2)
    return run.id


def test_entities_are_plain_dataclasses(store: Store) -> None:
    project = projects.create(store, "demo", "first")
    assert isinstance(project, Project)
    assert project.name == "demo" and project.description == "first"
    assert projects.get(store, str(project.id)) == projects.get(store, "demo")


def test_duplicate_project_is_a_conflict_naming_it(store: Store) -> None:
    projects.create(store, "demo")
    with pytest.raises(Conflict, match="'demo' already exists"):
        projects.create(store, "demo")


@pytest.mark.parametrize("bad", ["", "   ", "123", "x" * 201])
def test_bad_project_names(store: Store, bad: str) -> None:
    with pytest.raises(BadInput):
        projects.create(store, bad)


def test_counts_and_last_activity(store: Store) -> None:
    _populate(store)
    project = projects.get(store, "demo")
    assert (project.num_datasets, project.num_experiments, project.num_runs) == (1, 1, 1)
    assert project.last_activity >= project.created_at


def test_delete_project_cascades_everything(store: Store) -> None:
    run_id = _populate(store)
    _populate(store, "other")
    found = projects.delete(store, "demo")
    assert found.project.num_runs == 1 and found.num_metrics == 2
    assert [p.name for p in projects.list_all(store)] == ["other"]
    with pytest.raises(NotFound):
        runs.get(store, run_id)
    with store.engine.connect() as conn:
        leftover = conn.exec_driver_sql(f"SELECT count(*) FROM metrics WHERE run_id = {run_id}").scalar()
        assert leftover == 0
    assert len(runs.list_all(store)) == 1  # the other project's run is untouched


def test_run_transitions_are_recorded_and_checked(store: Store) -> None:
    run_id = _populate(store)
    runs.transition(store, run_id, RunStatus.STARTING, "scheduled")
    runs.transition(store, run_id, RunStatus.RUNNING, "worker started", pid=123)
    done = runs.transition(store, run_id, RunStatus.COMPLETED, "finished")
    assert done.finished_at is not None and done.pid == 123
    assert [(e.from_status, e.to_status) for e in runs.events(store, run_id)] == [
        (None, "queued"), ("queued", "starting"), ("starting", "running"), ("running", "completed")]
    with pytest.raises(IllegalTransition, match="cannot become running") as refused:
        runs.transition(store, run_id, RunStatus.RUNNING, "bogus")
    assert refused.value.exit_code == 1  # a bug or a race, not bad input


def test_update_naming_an_unknown_field_is_an_error(store: Store) -> None:
    run_id = _populate(store)
    with pytest.raises(InternalError, match="unknown field.*stepp"):
        runs.update(store, run_id, stepp=5)
    runs.update(store, run_id, step=5)
    assert runs.get(store, run_id).step == 5


def test_failed_write_changes_nothing(store: Store) -> None:
    projects.create(store, "demo")
    with pytest.raises(RuntimeError):
        with store.write() as session:
            from spark_trainer.store.entities import utcnow
            from spark_trainer.store.models import ProjectRow

            session.add(ProjectRow(name="half", description="", created_at=utcnow(), updated_at=utcnow()))
            session.flush()
            raise RuntimeError("boom")
    assert [p.name for p in projects.list_all(store)] == ["demo"]


def test_incremental_metric_reads(store: Store) -> None:
    run_id = _populate(store)
    first = metrics.read(store, run_id)
    metrics.add_batch(store, run_id, [("loss", 3, 1.0)])
    newer = metrics.read(store, run_id, after_id=first[-1].id)
    assert [(m.step, m.value) for m in newer] == [(3, 1.0)]


def test_dataset_in_use_is_not_deleted_without_force(store: Store) -> None:
    run_id = _populate(store)
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):  # a queued run would block it
        runs.transition(store, run_id, status, "test")
    with pytest.raises(Conflict, match="^dataset 'data' is used by experiment exp; delete it first or pass --force$"):
        datasets.delete(store, "data")
    datasets.delete(store, "data", force=True)
    assert experiments.get(store, "exp").dataset_id is None


def test_settings_defaults_and_validation(store: Store) -> None:
    assert settings.get(store, "max_concurrent_runs") == 1
    settings.set_value(store, "max_concurrent_runs", "3")
    assert settings.get_all(store)["max_concurrent_runs"] == 3
    with pytest.raises(BadInput, match="not a whole number"):
        settings.set_value(store, "max_concurrent_runs", "many")
    with pytest.raises(BadInput, match="unknown setting"):
        settings.set_value(store, "hf_token", "secret")


def test_a_write_waits_its_busy_timeout_then_says_the_database_is_locked(store: Store) -> None:
    """Another connection holding the write lock (as a worker frozen inside a write would): a store
    opened with a short busy timeout waits that long, then fails with one line, naming the database."""
    import os
    import sqlite3

    from spark_trainer.errors import DatabaseLocked
    from spark_trainer.store.store import write_lock_holders

    holder = sqlite3.connect(store.home.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store.open(store.home, busy_timeout_ms=200) as impatient:
            with impatient.read() as session:
                assert session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
            with pytest.raises(DatabaseLocked, match=r"sparktrainer\.db\): another process kept it locked for over 0\.2 s"):
                projects.create(impatient, "waits")
        assert write_lock_holders(store.home.db_path) in ({os.getpid()}, None)  # None off Linux
    finally:
        holder.rollback()
        holder.close()
    assert projects.create(store, "waits").name == "waits"  # nothing was half-written
