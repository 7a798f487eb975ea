"""A hung worker is noticed (issue 14, item 1): SIGSTOP a real worker; its run becomes stalled
with an event, then after the grace period its process group is killed and the run is
interrupted, resumable from its last checkpoint; a queued run behind it then starts."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from spark_trainer.config import load_config
from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
from tests.jobs.conftest import wait_until


def test_a_stopped_worker_is_marked_stalled_then_killed_and_resumes(store: Store, run_file) -> None:
    settings.set_value(store, "heartbeat_timeout_seconds", 5)
    settings.set_value(store, "stall_grace_seconds", 3)
    hung_file, next_file = run_file("hung", steps=400, ckpt_every=2), run_file("next", steps=2)
    hung = submit_config(store, load_config(hung_file), base_dir=hung_file.parent).run
    schedule_once(store, machine=[])
    waiting = submit_config(store, load_config(next_file), base_dir=next_file.parent).run
    running = wait_until(store, hung.id, lambda r: latest_checkpoint(Path(r.run_dir)) is not None, timeout_s=180)
    os.kill(running.pid, signal.SIGSTOP)
    try:
        stalled = wait_until(store, hung.id, lambda r: r.status != RunStatus.RUNNING, timeout_s=60,
                             reconcile_too=True)
        if stalled.status == RunStatus.INTERRUPTED:
            # Stopped inside a database write (now and then): the lock it holds kept "stalled" from
            # being written, and it was killed past the grace all the same (test_reconcile_and_stop.py
            # holds such a lock on purpose).
            assert "could not be marked stalled first" in stalled.error
            ended = stalled
        else:
            assert stalled.status == RunStatus.STALLED
            assert runs.get(store, waiting.id).status == RunStatus.QUEUED  # it still holds its slot
            event = runs.events(store, hung.id)[-1]
            assert (event.from_status, event.to_status) == ("running", "stalled") and "no heartbeat" in event.reason
            assert process.is_alive(running.pid, running.pid_start_time)

            ended = wait_until(store, hung.id, lambda r: r.status != RunStatus.STALLED, timeout_s=60,
                               reconcile_too=True)
    finally:
        process.signal_group(running.pid, signal.SIGKILL)  # never leave a stopped process behind
    assert ended.status == RunStatus.INTERRUPTED and "stalled" in ended.error
    assert not process.is_alive(running.pid, running.pid_start_time)
    kept = latest_checkpoint(Path(ended.run_dir))
    assert kept is not None

    # The queue moves on, and the interrupted run resumes from its checkpoint.
    schedule_once(store, machine=[])
    assert runs.get(store, waiting.id).status != RunStatus.QUEUED
    control.cancel(store, waiting.id, grace_s=5)
    resumed = control.resume(store, hung.id)
    assert f"from checkpoint step {checkpoint_step(kept)}" in runs.events(store, resumed.id)[-1].reason
    control.cancel(store, hung.id, grace_s=5)
