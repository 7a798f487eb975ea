"""One worker per run folder: when the store lost track of a live worker (the run marked
interrupted while it trained on) and the run is resumed, the new worker leaves the run to the one
still training instead of training on top of it."""

from __future__ import annotations

import os
import signal

from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import wait_until


def test_a_second_worker_on_a_live_workers_folder_leaves_the_run_to_it(store: Store, cli, run_file) -> None:
    started = cli("--json", "train", str(run_file("locked", steps=2000, ckpt_every=1000)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    first = wait_until(store, run_id, lambda r: r.status == RunStatus.RUNNING and r.step >= 1, timeout_s=180)
    try:
        # What a reconcile that cannot see the process (another pid namespace) would record.
        runs.transition(store, run_id, RunStatus.INTERRUPTED, "worker process is gone", eta_seconds=None)
        control.resume(store, run_id)
        assert schedule_once(store, machine=[]) == [run_id]
        after = wait_until(store, run_id, lambda r: any("is still training" in e.reason
                                                        for e in runs.events(store, run_id)), timeout_s=60)
        assert (after.status, after.pid) == (RunStatus.RUNNING, first.pid)
        assert f"another worker (pid {first.pid}) is still training this run" in runs.events(store, run_id)[-1].reason
        assert process.is_alive(first.pid, first.pid_start_time)
        assert control.cancel(store, run_id, grace_s=60).status == RunStatus.CANCELLED  # the run is still in hand
    finally:
        if process.is_alive(first.pid, first.pid_start_time):
            os.killpg(os.getpgid(first.pid), signal.SIGKILL)
