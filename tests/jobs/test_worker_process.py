"""A pause or cancel while the worker is still starting up (reading and tokenizing the data,
loading the model) ends the run within seconds, not after the stop grace period; a paused run then
resumes and trains to completion (jobs/worker_process.py install_stop_handler, Commands.start_up).

The slow start-up is the test-only hook SPARK_TRAINER_TEST_START_UP_DELAY (see
spark_trainer.training.reporting): model loading sleeps that long, as a large model's does.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import latest_checkpoint
from spark_trainer.training.reporting import START_UP_DELAY_ENV
from tests.jobs.conftest import finished

GRACE_S = 30.0  # the default stop_grace_seconds


def _stop_while_loading_the_model(store: Store, run_file, monkeypatch, kind: str, gpus: str = "cpu"):
    monkeypatch.setenv(START_UP_DELAY_ENV, "600")  # the worker inherits it: its model "loads" for 10 minutes
    path = run_file(name=f"slow-start-{kind}", steps=4, ckpt_every=2, gpus=gpus, batch_size=2)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store)
    log = Path(run.run_dir) / process.LOG_NAME
    deadline = time.monotonic() + 300
    while log.read_text().count("start-up delayed") < (2 if gpus == "cpu:2" else 1):
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    if gpus == "cpu":  # the heartbeat tells the run's status what start-up does (Commands.phase_text)
        while runs.get(store, run.id).phase != "loading the model":
            assert time.monotonic() < deadline, (runs.get(store, run.id).phase, log.read_text()[-3000:])
            time.sleep(0.1)
    began = time.monotonic()
    try:
        stopped = control.stop(store, run.id, control.StopKind(kind), grace_s=GRACE_S)
    finally:
        took = time.monotonic() - began
        if runs.get(store, run.id).status.is_active:
            control.cancel(store, run.id, grace_s=5)
    print(f"{kind} during start-up ({gpus}) took {took:.1f} s")
    return stopped, took, log.read_text()


@pytest.mark.parametrize("kind", ["pause", "cancel"])
def test_a_stop_while_the_model_loads_ends_the_run_within_seconds(store: Store, run_file, monkeypatch, kind) -> None:
    stopped, took, log = _stop_while_loading_the_model(store, run_file, monkeypatch, kind)
    assert took < 10, (took, log[-3000:])  # not the 30 s grace period and a kill
    assert stopped.status == (RunStatus.PAUSED if kind == "pause" else RunStatus.CANCELLED), log[-3000:]
    reason = runs.events(store, stopped.id)[-1].reason
    assert reason.startswith(f"{'paused' if kind == 'pause' else 'cancelled'} by request during start-up "
                             "(loading the model)"), reason
    assert "killed" not in reason and "Traceback" not in log and stopped.error is None, (reason, log[-3000:])
    assert latest_checkpoint(Path(stopped.run_dir)) is None  # nothing was trained, so nothing was saved
    assert stopped.phase is None  # a paused or cancelled run is not still "loading the model"
    if kind == "cancel":
        return
    monkeypatch.delenv(START_UP_DELAY_ENV)
    control.resume(store, stopped.id)
    schedule_once(store)
    done = _wait_finished(store, stopped.id)
    assert done.status == RunStatus.COMPLETED and done.step == 4, done.error
    assert [m.step for m in metrics.read(store, done.id, keys=["loss"])] == [1, 2, 3, 4]


@pytest.mark.slow
def test_a_pause_while_the_ranks_load_the_model_ends_the_run_within_seconds(store: Store, run_file,
                                                                             monkeypatch) -> None:
    stopped, took, log = _stop_while_loading_the_model(store, run_file, monkeypatch, "pause", gpus="cpu:2")
    assert took < 10 and stopped.status == RunStatus.PAUSED, (took, log[-3000:])
    assert "Traceback" not in log, log[-3000:]
    monkeypatch.delenv(START_UP_DELAY_ENV)
    control.resume(store, stopped.id)
    schedule_once(store)
    done = _wait_finished(store, stopped.id, timeout_s=400)
    assert done.status == RunStatus.COMPLETED and done.step == 4, done.error


def _wait_finished(store: Store, run_id: int, timeout_s: float = 240):
    from tests.jobs.conftest import wait_until

    return wait_until(store, run_id, finished, timeout_s=timeout_s)


def test_a_worker_log_line_gives_its_time_with_its_offset_from_utc(new_york, capsys) -> None:
    # A worker has the time zone of the process that started it: a line without its offset, read by a
    # person on another clock (the app, another terminal), was hours off unsaid.
    from datetime import datetime

    from spark_trainer.jobs.worker_process import say

    say("run 3 running on CPU")
    line = capsys.readouterr().out
    stamp = line[1:line.index("]")]
    assert line.endswith("] run 3 running on CPU\n")
    assert stamp.endswith((" -0500", " -0400")), stamp  # New York, winter or summer
    assert abs((datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S %z") - datetime.now().astimezone()).total_seconds()) < 60
