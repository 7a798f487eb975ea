"""No delete under running work (issue 14, item 3): from the CLI, with --yes and --force, the
project, dataset, experiment and run of a running run are all refused and nothing is lost."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import datasets, experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import running_here
from tests.worker_here import queued_only


def test_cli_deletes_refuse_while_a_run_is_running(store: Store, cli, run_file) -> None:
    """The run is submitted by `train` and marked running with this process as its live worker: what
    the guards read is the store and the worker's liveness, not its training (no worker process)."""
    with queued_only():
        started = cli("--json", "train", str(run_file("busy", steps=400, ckpt_every=50)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    running_here(store, run_id)
    metrics.add_batch(store, run_id, [("loss", 1, 2.5)])  # what a worker's first step records
    dataset = datasets.list_all(store)[0]
    attempts = {
        "project": cli("project", "delete", "jobs", "--yes", "--delete-files"),
        "dataset": cli("dataset", "delete", str(dataset.id), "--force"),
        "experiment": cli("exp", "delete", "busy"),
        "run": cli("run", "delete", str(run_id)),
    }
    try:
        for what, result in attempts.items():
            assert result.code == 2, (what, result.err)
            said = f"run {run_id} is in progress (running)" if what == "run" else \
                f"in use by run {run_id}, which is running"
            assert said in result.err, (what, result.err)
            assert result.err.count("\n") == 1
        run = runs.get(store, run_id)
        assert run.status == RunStatus.RUNNING and Path(run.run_dir, "config.yaml").exists()
        assert projects.get(store, "jobs").num_runs == 1 and experiments.get(store, "busy")
        assert Path(dataset.path).is_dir() and metrics.read(store, run_id, keys=["loss"])
    finally:
        runs.transition(store, run_id, RunStatus.CANCELLED, "test: stopped")
    # Once the run has stopped, the same delete goes through.
    assert cli("project", "delete", "jobs", "--yes", "--keep-files").code == 0


def test_a_run_on_changed_data_guards_its_own_dataset_not_its_experiments(store: Store, cli, run_file,
                                                                          tmp_path: Path) -> None:
    """A run file whose data changed queues its run on a new ingestion (`data-2`) under the same experiment.
    Deletes asked the experiment's dataset: `data-2` was deleted, files and all, under its running run, while
    deleting `data` was refused "in use" by that run, which does not read it."""
    import os
    import shutil

    import yaml

    from tests.jobs.conftest import DEMO_DATA

    data = tmp_path / "data.jsonl"
    shutil.copy(DEMO_DATA, data)
    path = run_file("busy", steps=400, ckpt_every=50)
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "dataset": str(data)}))
    with queued_only():
        first = cli("--json", "train", str(path))
        assert first.code == 0, first.err
        data.write_text(data.read_text() + data.read_text().splitlines()[0] + "\n")
        later = os.stat(data).st_mtime + 5
        os.utime(data, (later, later))
        second = cli("--json", "train", str(path))
    assert second.code == 0, second.err
    old, new = (datasets.get(store, name, "jobs") for name in ("data", "data-2"))
    run_id = second.json()["id"]
    assert runs.get(store, run_id).dataset_id == new.id and runs.get(store, first.json()["id"]).dataset_id == old.id
    runs.transition(store, first.json()["id"], RunStatus.CANCELLED, "test: stopped")
    running_here(store, run_id)
    try:
        refused = cli("dataset", "delete", "data-2", "--yes", "--delete-files", "--force")
        assert refused.code == 2 and f"in use by run {run_id}, which is running" in refused.err, refused.err
        assert Path(new.path).is_dir() and datasets.get(store, new.id)
        # `data` is its experiment's dataset, but not the one the running run reads: --force deletes it.
        assert cli("dataset", "delete", "data", "--yes", "--force").code == 0
    finally:
        runs.transition(store, run_id, RunStatus.CANCELLED, "test: stopped")
