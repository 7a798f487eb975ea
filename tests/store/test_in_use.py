"""The delete rule of spark_trainer/store/in_use.py: a dataset that a queued run will read when it
starts is kept, even with --force (the run would fail at its start with the dataset gone)."""

from __future__ import annotations

import pytest

from spark_trainer.errors import Conflict
from spark_trainer.store import datasets, experiments, projects, runs
from spark_trainer.store.datasets import NewDataset
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def test_a_dataset_a_queued_run_will_read_is_not_deleted(store: Store) -> None:
    projects.create(store, "p")
    ds = datasets.create(store, "p", NewDataset(name="train", kind="text", path="/tmp/x", num_items=1))
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=ds.id,
                             config={})
    queued = runs.create(store, exp.id)
    with pytest.raises(Conflict, match=rf"dataset 'train' is in use by run {queued.id}, which is queued; "):
        datasets.delete(store, ds.id, force=True)
    assert datasets.get(store, ds.id)
    runs.transition(store, queued.id, RunStatus.CANCELLED, "test: cancelled")
    assert datasets.delete(store, ds.id, force=True).id == ds.id


def test_a_queued_run_does_not_block_deleting_its_experiment(store: Store) -> None:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    runs.create(store, exp.id)
    experiments.delete(store, exp.id)  # the queued run goes with it
    assert runs.list_all(store) == []


def test_deleting_a_run_in_progress_says_the_run_is_in_progress(store: Store) -> None:
    """`run delete 5` of a running run said "run 5 is in use by run in progress 5 (running)"."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id)
    runs.transition(store, run.id, RunStatus.STARTING, "test")
    runs.transition(store, run.id, RunStatus.RUNNING, "test")
    with pytest.raises(Conflict) as caught:
        runs.delete(store, run.id)
    assert str(caught.value) == f"run {run.id} is in progress (running); cancel or pause it before deleting"


def _dataset_and_run(store: Store, status: RunStatus | None = None):  # noqa: ANN202 - (dataset, run)
    projects.create(store, "p")
    ds = datasets.create(store, "p", NewDataset(name="train", kind="text", path="/tmp/x", num_items=1))
    other = datasets.create(store, "p", NewDataset(name="other", kind="text", path="/tmp/y", num_items=1))
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=other.id,
                             config={})
    run = runs.create(store, exp.id, dataset_id=ds.id)  # the run file's data changed: a new ingestion
    path = {RunStatus.RUNNING: [RunStatus.STARTING, RunStatus.RUNNING],
            RunStatus.PAUSED: [RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED],
            RunStatus.INTERRUPTED: [RunStatus.STARTING, RunStatus.RUNNING, RunStatus.INTERRUPTED]}.get(status, [])
    for step in path:
        runs.transition(store, run.id, step, "test")
    return ds, run


def test_a_queued_run_is_told_to_be_cancelled_not_paused(store: Store) -> None:
    """`run pause` refuses a queued run ("cancel it instead of pausing"): the refusal said "cancel or pause"."""
    ds, run = _dataset_and_run(store)
    with pytest.raises(Conflict) as caught:
        datasets.delete(store, ds.id, force=True)
    assert str(caught.value) == (f"dataset 'train' is in use by run {run.id}, which is queued; "
                                 "cancel it before deleting")


def test_a_running_run_is_not_told_that_pausing_it_keeps_it_resumable(store: Store) -> None:
    ds, run = _dataset_and_run(store, RunStatus.RUNNING)
    with pytest.raises(Conflict) as caught:
        datasets.delete(store, ds.id, force=True)
    assert str(caught.value) == (f"dataset 'train' is in use by run {run.id}, which is running; cancel it before "
                                 "deleting (a run paused instead can no longer be resumed once its dataset is deleted)")


@pytest.mark.parametrize("status", [RunStatus.PAUSED, RunStatus.INTERRUPTED])
def test_a_resumable_runs_own_dataset_is_kept_unless_forced_naming_the_run(store: Store, status: RunStatus) -> None:
    """The run's dataset is not its experiment's: no experiment names it, and it was deleted unasked."""
    ds, run = _dataset_and_run(store, status)
    with pytest.raises(datasets.DatasetInUse) as caught:
        datasets.delete(store, ds.id)
    assert str(caught.value) == (f"dataset 'train' is used by run {run.id} ({status.value}); deleted, that run can no "
                                 "longer be resumed: cancel it first, or pass --force")
    assert caught.value.runs == [(run.id, status.value)] and caught.value.experiments == []
    assert datasets.delete(store, ds.id, force=True).id == ds.id
    assert runs.get(store, run.id).dataset_id is None


def test_two_runs_in_progress_are_named_each_with_its_status(store: Store) -> None:
    ds, first = _dataset_and_run(store, RunStatus.RUNNING)
    second = runs.create(store, first.experiment_id, dataset_id=ds.id)
    with pytest.raises(Conflict) as caught:
        datasets.delete(store, ds.id, force=True)
    assert str(caught.value).startswith(f"dataset 'train' is in use by runs {first.id} (running) and "
                                        f"{second.id} (queued); cancel them")
