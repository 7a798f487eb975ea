"""A worker's keeper (spark_trainer/jobs/chain_keeper.py): a queue keeps draining when its worker is
killed outright and no scheduler is alive (seen in a walk of a night's queue: the next run stayed
queued until the morning's `queue serve`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from spark_trainer.config import load_config
from spark_trainer.jobs import chain_keeper
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until


def test_a_worker_killed_outright_starts_the_next_queued_run_with_no_scheduler_alive(store: Store, run_file) -> None:
    settings.set_value(store, "max_concurrent_runs", 1)
    long = run_file("long", steps=400, ckpt_every=400)
    short = run_file("short", steps=3, ckpt_every=3)
    first = submit_config(store, load_config(long), base_dir=long.parent).run
    second = submit_config(store, load_config(short), base_dir=short.parent).run
    assert schedule_once(store) == [first.id]  # the last scheduler pass of this test
    running = wait_until(store, first.id, lambda r: r.status == RunStatus.RUNNING and r.step > 0 and r.pid is not None)
    os.kill(running.pid, signal.SIGKILL)  # as the out-of-memory killer does: no word from the worker

    # Nobody reconciles or schedules here: the keeper does both.
    done = wait_until(store, second.id, finished, timeout_s=180)
    assert done.status == RunStatus.COMPLETED
    killed = runs.get(store, first.id)
    assert killed.status == RunStatus.INTERRUPTED and "ended without recording how the run ended" in (killed.error or "")
    log = Path(killed.run_dir, "worker.log").read_text()
    assert f"keeper: run {first.id}'s worker ended without recording how; started queued run {second.id}" in log
    # The second worker ended as it should (and started nothing): its keeper says nothing.
    assert "keeper" not in Path(done.run_dir, "worker.log").read_text()


def test_a_keeper_whose_worker_ended_as_it_should_starts_nothing(store: Store, experiment, monkeypatch) -> None:
    # A run that completed (its worker recorded it) and one queued behind it: the keeper leaves the
    # queue to whoever runs it (the worker drained it already, or the run waits for a reason).
    ended = runs.create(store, experiment.id, requested_gpus="cpu")
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, ended.id, status, "test")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    runs.update(store, ended.id, pid=pid, pid_start_time=1.0)
    waiting = runs.create(store, experiment.id, requested_gpus="cpu")
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(store.home.root))
    assert chain_keeper.after_worker(ended.id, pid) == []
    assert runs.get(store, waiting.id).status == RunStatus.QUEUED


def test_a_keeper_of_a_deleted_home_recreates_nothing(tmp_path: Path, monkeypatch) -> None:
    gone = tmp_path / "deleted-home"
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(gone))
    assert chain_keeper.after_worker(3, 12345) == []
    assert not gone.exists()
