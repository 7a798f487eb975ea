"""`queue serve` on a data home whose disk is full (a real tmpfs): it says so once, keeps the queued
run queued, keeps polling, and starts the run once there is room, as the GUI's scheduler does
(issue 14, item 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture

TICK = "0.1"


def _queue_a_run(store: Store) -> int:
    # No config.yaml: once started, the worker fails at once ("file not found"), which keeps the test
    # short; what matters here is that the scheduler started it.
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    return runs.create(store, exp.id, requested_gpus="cpu").id


def _serve(home: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spark_trainer", "--home", str(home), "queue", "serve",
                             "--interval", TICK, "--until-idle"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})


def _waits_then_starts(serve: subprocess.Popen, store: Store | None, home: Path, run_id: int) -> str:
    """Read up to the waiting line, let it tick a while, give room back; returns all of stderr."""
    assert "scheduler running" in serve.stderr.readline()
    waiting = serve.stderr.readline()
    time.sleep(0.5)  # about five ticks on the full disk
    assert serve.poll() is None, serve.communicate()  # still serving, not stopped by the full disk
    if store is not None:
        assert runs.get(store, run_id).status == RunStatus.QUEUED
    free(home)
    out, rest = serve.communicate(timeout=120)
    assert serve.returncode == 0, rest
    assert f"run {run_id} (e) started on CPU" in rest
    return waiting + rest


def test_queue_serve_waits_for_room_then_starts_the_queued_run(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 4 * 2**20)
    with Store.open(home) as store:  # held open, as the GUI or a worker would: reads still work
        run_id = _queue_a_run(store)
        fill(home)
        err = _waits_then_starts(_serve(home), store, home, run_id)
        assert err.count("disk full") == 1, err  # said once, not on every tick
        assert (f"disk full at {home}: 0.0 MiB free; the database sparktrainer.db could not be written; run {run_id} "
                "stays queued and starts once there is room") in err
        assert "error" not in err
        events = [e.to_status for e in runs.events(store, run_id)]
        assert events[:2] == ["queued", "starting"], events  # queued all along, then started


@pytest.mark.slow  # the rarer case (the usual one is a scheduler already running): kept out of the default suite
def test_queue_serve_started_on_a_full_disk_waits_to_open_the_database(tmpfs, tmp_path: Path) -> None:  # noqa: F811
    home = tmpfs(tmp_path / "home", 4 * 2**20)
    with Store.open(home) as store:
        run_id = _queue_a_run(store)
    fill(home)  # nothing holds the database open: even opening it needs a write
    err = _waits_then_starts(_serve(home), None, home, run_id)
    assert err.count("disk full") == 1, err
    assert f"disk full at {home}: 0.0 MiB free; the database sparktrainer.db could not be written; " in err
    with Store.open(home) as store:
        assert runs.get(store, run_id).status not in {RunStatus.QUEUED, RunStatus.STARTING}
