"""A worker whose data home fills up mid-run (real workers, a real tmpfs): the metric flush that
meets the full disk fails the run with one line, not SQLite's "database or disk is full"; the
checkpoints stay as they were; `run resume` refuses with the same line while the disk is full and
continues once there is room, with every metric step exactly once. Where the database's own disk
is full (the runs folder elsewhere) the worker cannot record anything: it says so in its log and
exits, and reconcile records the run interrupted once it can write. A log on a full disk only
loses lines: the run trains on and records that as an event.

Slow (several real training runs): `pytest -m slow tests/jobs/test_worker_disk_full.py`; needs root
to mount the tmpfs, skipped otherwise.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs import process, space_reserve
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import list_checkpoints, read_state
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.jobs.conftest import finished, wait_until
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
MiB = 2**20
STEPS = 160
# Checkpoints far apart, and the disk filled as soon as the first is complete: no checkpoint's
# free-space check runs while the ballast goes in, and the run's next write is a metric flush (the next
# checkpoint's own flush comes before its check). With a checkpoint every 2 steps, a fill slowed by a
# busy machine overlapped the next checkpoint, whose check then read a half-filled disk ("16.0 MiB free,
# the checkpoint needs about 16.1 MB") after its flush had still found room.
CKPT_EVERY = 50


def _start(store: Store, run_file, name: str) -> Run:
    path = run_file(name, steps=STEPS, ckpt_every=CKPT_EVERY)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store, machine=[])
    return run


def _fill_after_a_checkpoint(store: Store, run: Run, folder: Path) -> dict[str, dict[str, bytes]]:
    """As soon as the run's first checkpoint is complete, fill `folder`'s disk to its last byte;
    returns the complete checkpoints as they were then."""
    run_dir = Path(run.run_dir)
    wait_until(store, run.id, lambda r: bool(list_checkpoints(run_dir)) or finished(r), timeout_s=300)
    fill(folder)
    return {p.name: {f.name: f.read_bytes() for f in p.iterdir()} for p in list_checkpoints(run_dir)}


def _checkpoints_intact(run_dir: Path, before: dict[str, dict[str, bytes]]) -> None:
    found = list_checkpoints(run_dir)
    assert found and not list((run_dir / "checkpoints").glob(".staging-*"))
    for path in found:  # every checkpoint complete; those seen before byte for byte the same
        assert read_state(path)["step"] == int(path.name.split("-")[1])
        if path.name in before:
            assert {f.name: f.read_bytes() for f in path.iterdir()} == before[path.name]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([spark_trainer_exe(), "--home", str(home), *args], env=subprocess_env(),
                          capture_output=True, text=True, timeout=120, check=False)


def _resume_to_the_end(store: Store, home: Path, run: Run) -> None:
    resumed = _cli(home, "run", "resume", str(run.id))
    assert resumed.returncode == 0, resumed.stderr
    schedule_once(store, machine=[])
    done = wait_until(store, run.id, finished, timeout_s=600, reconcile_too=True)
    assert done.status == RunStatus.COMPLETED and done.step == STEPS, (done.error, process.log_tail(Path(run.run_dir)))
    steps = [m.step for m in metrics.read(store, run.id, keys=["loss"])]
    assert steps == list(range(1, STEPS + 1))  # no gap, no duplicate


def test_a_metric_flush_on_a_full_disk_fails_the_run_cleanly_and_it_resumes(tmpfs, run_file,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    home = tmpfs(tmp_path / "fullhome", 48 * MiB)
    with Store.open(home) as store:
        run = _start(store, run_file, "flush")
        before = _fill_after_a_checkpoint(store, run, home)
        failed = wait_until(store, run.id, finished, timeout_s=300)
        log = process.log_tail(Path(run.run_dir), 40)
        assert failed.status == RunStatus.FAILED, log
        error = failed.error
        assert error.startswith(f"disk full at {home}: "), error  # the held-back space let it be recorded
        assert "the database sparktrainer.db could not be written" in error, error
        assert error.endswith(". Free some space, then resume the run") and "\n" not in error, error
        assert "database or disk is full" not in error and "Traceback" not in log, log
        assert [e.reason for e in runs.events(store, run.id)][-1] == "disk full or I/O error"
        _checkpoints_intact(Path(run.run_dir), before)

        # Resumed with the disk still full (only the worker's held-back space is free): the new worker
        # refuses before training, saying how much a checkpoint needs; nothing is lost.
        points = len(metrics.read(store, run.id))
        again = _cli(home, "run", "resume", str(run.id))
        assert again.returncode == 0, again.stderr
        refused = wait_until(store, run.id, lambda r: r.status == RunStatus.FAILED and r.error != error,
                             timeout_s=300)
        assert refused.error.startswith(f"disk full at {run.run_dir}: "), refused.error
        assert "the checkpoint needs about" in refused.error, refused.error
        _checkpoints_intact(Path(run.run_dir), before)
        assert len(metrics.read(store, run.id)) <= points  # at most the points past the checkpoint dropped

        free(home)
        _resume_to_the_end(store, home, run)


def test_a_full_database_disk_leaves_a_dead_worker_that_reconcile_records(tmpfs, run_file,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    # The database here (room for its WAL, which grows to 16 MiB before SQLite checkpoints it); the
    # runs on a disk with room.
    home = tmpfs(tmp_path / "dbhome", 32 * MiB)
    tmpfs(home / "runs", 64 * MiB)
    with Store.open(home) as store:
        run = _start(store, run_file, "dbfull")
        before = _fill_after_a_checkpoint(store, run, home)
        started = runs.get(store, run.id)
        deadline = time.monotonic() + 300
        while process.is_alive(started.pid, started.pid_start_time) and time.monotonic() < deadline:
            time.sleep(0.1)
        log = process.log_tail(Path(run.run_dir), 40)
        assert not process.is_alive(started.pid, started.pid_start_time), log
        assert f"the outcome could not be recorded in the database: disk full at {home}: " in log, log
        assert "Traceback" not in log, log
        assert reconcile(store) == []  # it cannot write yet: the run stays as it is, nothing raised
        assert runs.get(store, run.id).status == RunStatus.RUNNING

        free(home)
        assert reconcile(store) == [run.id]
        lost = runs.get(store, run.id)
        assert lost.status == RunStatus.INTERRUPTED and "could not be recorded" in lost.error, lost.error
        assert not (Path(run.run_dir) / space_reserve.RESERVE_NAME).exists()
        _checkpoints_intact(Path(run.run_dir), before)
        _resume_to_the_end(store, home, run)


def test_a_log_on_a_full_disk_loses_lines_but_not_the_run(tmpfs, run_file, tmp_path: Path, store: Store) -> None:  # noqa: F811
    logs = tmpfs(tmp_path / "logs", 64 * 1024)
    path = run_file("quietlog", steps=12, ckpt_every=4)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    (Path(run.run_dir) / process.LOG_NAME).symlink_to(logs / "worker.log")
    (logs / "worker.log").touch()
    fill(logs)
    schedule_once(store, machine=[])
    done = wait_until(store, run.id, finished, timeout_s=300)
    assert done.status == RunStatus.COMPLETED and done.step == 12, done.error
    assert [m.step for m in metrics.read(store, run.id, keys=["loss"])] == list(range(1, 13))
    notes = [e.reason for e in runs.events(store, run.id) if "log could not be written" in e.reason]
    assert notes == [f"the run's log could not be written (disk full at {logs}: 0.0 MiB free); training continues "
                     "and log lines are dropped until there is room"], [e.reason for e in runs.events(store, run.id)]
    assert (logs / "worker.log").stat().st_size == 0
