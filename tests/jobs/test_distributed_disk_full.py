"""A multi-process run (two real gloo ranks on the CPU) whose checkpoints' disk fills up (a real
tmpfs over the run's checkpoints folder): rank 0 cannot save, every rank stops with it (none left
waiting in a collective, no traceback), the run fails with the disk-full line and the latest
complete checkpoint named, and once there is room it resumes and completes with every metric step
once (issue 14, item 2).

Slow (two launches of two rank processes): `pytest -m slow tests/jobs/test_distributed_disk_full.py`;
needs root to mount the tmpfs, skipped otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.jobs import control, process
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import artifacts, metrics
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import latest_checkpoint, list_checkpoints
from tests.jobs.conftest import finished, wait_until
from tests.tmpfs import fill, free, tmpfs  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow
STEPS = 24


def test_a_full_disk_stops_every_rank_cleanly_and_the_run_resumes(store: Store, run_file, tmpfs) -> None:  # noqa: F811
    path = run_file(name="ddp-full", steps=STEPS, ckpt_every=2, gpus="cpu:2", batch_size=2)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    run_dir = Path(run.run_dir)
    ckpts = tmpfs(run_dir / "checkpoints", 64 * 2**20)
    schedule_once(store)
    wait_until(store, run.id, lambda r: latest_checkpoint(run_dir) is not None or finished(r), timeout_s=400)
    fill(ckpts)  # another program takes the space while the run trains on
    kept = {p.name: {f.name: f.read_bytes() for f in p.iterdir()} for p in list_checkpoints(run_dir)}

    failed = wait_until(store, run.id, finished, timeout_s=400)
    log = (run_dir / process.LOG_NAME).read_text()
    assert failed.status == RunStatus.FAILED, log[-3000:]
    # The check before the next checkpoint refuses ("... the checkpoint needs about 16.0 MB; free some
    # space, then resume the run"), or, had the fill landed mid-write, the write's own line does.
    assert failed.error.startswith(f"disk full at {ckpts}") and "then resume the run" in failed.error.lower(), \
        failed.error
    last = latest_checkpoint(run_dir)
    assert last is not None
    assert "rank exit codes: [1, 1]" in log, log[-3000:]  # both ranks stopped on their own, none killed
    assert "every process stops" in log and "Traceback" not in log, log[-3000:]
    for found in list_checkpoints(run_dir):  # the checkpoints written before are as they were
        if found.name in kept:  # (one published in the instant the disk filled is complete too)
            assert {f.name: f.read_bytes() for f in found.iterdir()} == kept[found.name]
    assert not list(ckpts.glob(".staging-*"))

    free(ckpts)
    control.resume(store, run.id)
    schedule_once(store)
    done = wait_until(store, run.id, finished, timeout_s=400, reconcile_too=True)
    log = (run_dir / process.LOG_NAME).read_text()
    assert done.status == RunStatus.COMPLETED and done.step == STEPS, (done.error, log[-3000:])
    assert f"resuming from {last.name}" in log
    assert [m.step for m in metrics.read(store, run.id, keys=["loss"])] == list(range(1, STEPS + 1))
    steps = [a.step for a in artifacts.list_for(store, run.id, "checkpoint")]
    assert len(steps) == len(set(steps)) and STEPS in steps
