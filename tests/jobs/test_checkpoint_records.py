"""A checkpoint written to disk but not recorded as an artifact (the database's disk filled between
the two, or the worker died there) is recorded when the run ends, resumes or is reconciled; only
complete checkpoints carrying the run's uuid count (issue 14, item 2). Real tmpfs, real worker."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs import control
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import artifacts, experiments, metrics, projects, runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training import checkpoints
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture
from tests.worker_here import work_here

MiB = 2**20


def _checkpoint_rows(store: Store, run_id: int) -> list[tuple[int, bool]]:
    return [(a.step, bool(a.meta.get("recorded_late"))) for a in artifacts.list_for(store, run_id, "checkpoint")]


def test_a_checkpoint_the_full_database_disk_kept_out_of_the_list_is_recorded_when_the_run_ends(
        tmpfs, tmp_path: Path, run_file, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 24 * MiB)
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(home))
    real_prune = checkpoints.prune

    def prune_then_fill(run_dir: Path, *args, **kwargs):  # between publishing a checkpoint and recording it
        removed = real_prune(run_dir, *args, **kwargs)
        if checkpoints.latest_checkpoint(run_dir).name == "step-00000002":
            fill(home)
        return removed

    monkeypatch.setattr(checkpoints, "prune", prune_then_fill)
    with Store.open(home) as store:
        path = run_file("late", steps=4, ckpt_every=2)
        run = submit_config(store, load_config(path), base_dir=path.parent).run
        assert work_here(store, run.id, log=False) == 1
        failed = runs.get(store, run.id)
        assert failed.status == RunStatus.FAILED
        assert failed.error.startswith(f"disk full at {home}: "), failed.error
        assert "the last complete checkpoint is still step-00000002" in failed.error
        # The worker gave its held-back space up to record the outcome, and with it the checkpoint.
        assert _checkpoint_rows(store, run.id) == [(2, True)]
        assert "recorded checkpoint step-00000002: written to disk but not recorded when saved (the database could " \
               "not be written then)" in [e.reason for e in runs.events(store, run.id)]

        free(home)
        monkeypatch.setattr(checkpoints, "prune", real_prune)
        control.resume(store, run.id)
        assert work_here(store, run.id, log=False) == 0
        done = runs.get(store, run.id)
        assert done.status == RunStatus.COMPLETED and done.step == 4
        assert _checkpoint_rows(store, run.id) == [(2, True), (4, False)]  # each once
        assert [m.step for m in metrics.read(store, run.id, keys=["loss"])] == [1, 2, 3, 4]


FILES = {"trainable.safetensors": lambda p: p.write_bytes(b"weights")}  # write_checkpoint adds the run's uuid


def test_reconcile_records_a_dead_workers_unrecorded_checkpoints_once_the_database_has_room(
        tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 24 * MiB)  # write_checkpoint keeps a 16 MB margin
    with Store.open(home) as store:
        projects.create(store, "p")
        exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                                 config={})
        run = runs.create(store, exp.id, requested_gpus="cpu")
        run_dir = Path(run.run_dir)
        checkpoints.write_identity(run_dir, run.id, run.uuid)
        recorded = checkpoints.write_checkpoint(run_dir, 2, FILES, {"metric": 1.5})
        artifacts.add(store, run.id, "checkpoint", str(recorded), step=2, meta={"metric": 1.5})
        checkpoints.write_checkpoint(run_dir, 4, FILES, {"metric": 1.4})  # the worker died before recording it
        (run_dir / "checkpoints" / ".staging-step-00000006").mkdir()  # and this one was never finished
        runs.claim(store, make_picker([], 4, False))
        runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        runs.update(store, run.id, pid=dead.pid, pid_start_time=time.time())
        fill(home)

        assert reconcile(store) == []  # nothing can be written yet
        free(home)
        assert reconcile(store) == [run.id]
        assert runs.get(store, run.id).status == RunStatus.INTERRUPTED
        assert _checkpoint_rows(store, run.id) == [(2, False), (4, True)]
        assert reconcile(store) == [] and _checkpoint_rows(store, run.id) == [(2, False), (4, True)]


def _new_run(store: Store) -> tuple[Run, Path]:
    """A queued CPU run of a new experiment, and its folder (no checkpoint, no identity yet)."""
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    return run, Path(run.run_dir)


def test_only_complete_checkpoints_with_the_runs_uuid_are_recorded(store: Store) -> None:
    from spark_trainer.jobs.checkpoint_records import record_missing

    run, run_dir = _new_run(store)
    checkpoints.write_checkpoint(run_dir, 5, FILES, {"metric": 1.0})  # no uuid: from before uuids existed
    checkpoints.write_identity(run_dir, run.id, run.uuid)
    checkpoints.write_checkpoint(run_dir, 3, FILES, {"metric": 1.5})
    assert len(checkpoints.list_checkpoints(run_dir)) == 2  # both are the run's to resume from
    assert record_missing(store, run) == [3]
    assert record_missing(store, run) == []
    assert _checkpoint_rows(store, run.id) == [(3, True)]


def test_a_killed_workers_checkpoint_recorded_late_says_the_worker_stopped_not_that_the_database_failed(
        store: Store) -> None:
    """Seen: a worker killed -9 between publishing step-00000010 and recording it; the event said "the
    database could not be written then", though the database was fine (fault walk, item 10)."""
    run, run_dir = _new_run(store)
    checkpoints.write_identity(run_dir, run.id, run.uuid)
    checkpoints.write_checkpoint(run_dir, 10, FILES, {"metric": 1.4})  # the worker was killed before recording it
    runs.claim(store, make_picker([], 4, False))
    runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs.update(store, run.id, pid=dead.pid, pid_start_time=time.time())

    assert reconcile(store) == [run.id]
    assert _checkpoint_rows(store, run.id) == [(10, True)]
    assert runs.events(store, run.id)[-1].reason == (
        "recorded checkpoint step-00000010: written to disk but not recorded when saved (the worker stopped before "
        "recording it)")


def test_a_resumed_worker_recording_its_predecessors_checkpoint_says_that_worker_stopped(
        store: Store, monkeypatch) -> None:
    """Seen: a worker killed between publishing step-00000010 and recording it, its run interrupted without
    the record (the database full then); the resumed worker recorded it saying "the database could not be
    written then", as of its own write."""
    from spark_trainer.jobs import worker
    from spark_trainer.jobs.finish import Finish

    run, run_dir = _new_run(store)
    checkpoints.write_identity(run_dir, run.id, run.uuid)
    checkpoints.write_checkpoint(run_dir, 10, FILES, {"metric": 1.4})  # the killed worker's, never recorded
    runs.claim(store, make_picker([], 4, False))
    runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
    runs.transition(store, run.id, RunStatus.INTERRUPTED, "worker process is gone")
    runs.transition(store, run.id, RunStatus.QUEUED, "resumed")
    monkeypatch.setattr(worker, "_train_here_or_ranks",  # the resume itself is not the subject
                        lambda *args: Finish(RunStatus.COMPLETED, "completed 10 steps", step=10))

    assert work_here(store, run.id) == 0
    assert _checkpoint_rows(store, run.id) == [(10, True)]
    notes = [e.reason for e in runs.events(store, run.id) if e.reason.startswith("recorded checkpoint")]
    assert notes == ["recorded checkpoint step-00000010: written to disk but not recorded when saved (the worker "
                     "stopped before recording it)"]
