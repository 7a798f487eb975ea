"""A worker that died while its database's disk was full (a real tmpfs as the data home): reconcile
cannot record it yet, so it leaves the run as it is without failing the caller's command; once
there is room it marks the run interrupted with the worker's last words, and it resumes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.cli.waiting import wait_for_run
from spark_trainer.errors import DiskFull
from spark_trainer.jobs import control, space_reserve
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture

LAST_WORDS = ("disk full at HOME: 0.0 MiB free; the database sparktrainer.db could not be written\n"
              "the outcome could not be recorded in the database\n")


def test_reconcile_waits_for_room_then_marks_the_dead_worker_interrupted(tmpfs, tmp_path: Path, cli) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 4 * 2**20)  # the `cli` fixture's home
    with Store.open(home) as store:
        projects.create(store, "p")
        exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                                 config={})
        run = runs.create(store, exp.id, requested_gpus="cpu")
        runs.claim(store, make_picker([], 4, False))
        run = runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        runs.update(store, run.id, pid=dead.pid, pid_start_time=time.time())
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "worker.log").write_text(LAST_WORDS)
        assert space_reserve.hold(run_dir, 64 * 1024)
        fill(home)

        assert reconcile(store) == []  # nothing can be written: no error, the run waits
        assert runs.get(store, run.id).status == RunStatus.RUNNING
        listed = cli("run", "list")
        assert listed.code == 0, listed.err  # reading still works on the full disk
        refused = cli("run", "resume", str(run.id))
        assert refused.code == 1, refused
        assert f"disk full at {home}: 0.0 MiB free; the database sparktrainer.db could not be written" in refused.err
        assert len(refused.err.strip().splitlines()) == 1 and "database or disk is full" not in refused.err
        with pytest.raises(DiskFull, match=f"disk full at {home}: "):  # `--wait` says so instead of waiting forever
            wait_for_run(store, run.id, poll_s=0.01)

        free(home)
        assert reconcile(store) == [run.id]
        after = runs.get(store, run.id)
        assert after.status == RunStatus.INTERRUPTED
        assert "the outcome could not be recorded" in after.error
        assert not (run_dir / space_reserve.RESERVE_NAME).exists()  # the dead worker's reserve is given back
        assert control.resume(store, run.id).status == RunStatus.QUEUED
