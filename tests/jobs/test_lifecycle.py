"""A run's life with real worker subprocesses training a tiny model on the CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from spark_trainer.config import load_config
from spark_trainer.jobs import control
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import artifacts, metrics, runs, settings
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
from tests.conftest import spark_trainer_exe, subprocess_env
from tests.jobs.conftest import finished, wait_until


def _submit(store: Store, path: Path, **kw):
    return submit_config(store, load_config(path), base_dir=path.parent, **kw).run


def _loss_steps(store: Store, run_id: int) -> list[int]:
    return sorted(m.step for m in metrics.read(store, run_id, keys=["loss"]))


def test_three_runs_two_at_a_time_drain_without_a_daemon(store: Store, run_file) -> None:
    settings.set_value(store, "max_concurrent_runs", 2)
    path = run_file(steps=6, ckpt_every=6)
    ids = [_submit(store, path).id for _ in range(3)]
    started = schedule_once(store)
    assert started == ids[:2]
    assert runs.get(store, ids[2]).status == RunStatus.QUEUED
    # Nobody calls the scheduler again: a worker that finishes starts the queued run.
    done = [wait_until(store, i, finished, timeout_s=180) for i in ids]
    assert [r.status for r in done] == [RunStatus.COMPLETED] * 3
    for run in done:
        moves = [(e.from_status, e.to_status) for e in runs.events(store, run.id)]
        assert moves == [(None, "queued"), ("queued", "starting"), ("starting", "running"), ("running", "completed")]
        assert _loss_steps(store, run.id) == list(range(1, 7))
    third_started = next(e.created_at for e in runs.events(store, ids[2]) if e.to_status == "starting")
    assert third_started >= min(r.finished_at for r in done[:2])


def test_kill9_interrupts_within_seconds_and_resume_continues_the_series(store: Store, run_file, cli) -> None:
    path = run_file(steps=40, ckpt_every=10)  # killed at its first checkpoint: 30 steps or so left to resume
    run = _submit(store, path)
    assert schedule_once(store) == [run.id]
    # Metrics and progress reach the store just before each checkpoint is written: wait for the folder.
    run = wait_until(store, run.id, lambda r: r.pid is not None and latest_checkpoint(Path(r.run_dir)) is not None,
                     timeout_s=120)
    os.kill(run.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    lost = wait_until(store, run.id, lambda r: r.status == RunStatus.INTERRUPTED, timeout_s=10, reconcile_too=True)
    assert time.monotonic() - killed_at < 10
    assert lost.error.startswith(f"the worker process (pid {run.pid}) ended without recording how the run ended "
                                 "(killed? out of memory"), lost.error
    resume_from = checkpoint_step(latest_checkpoint(Path(run.run_dir)))
    assert 10 <= resume_from < 40

    result = cli("run", "resume", str(run.id), "--wait")
    assert result.code == 0, result.err
    after = runs.get(store, run.id)
    assert after.status == RunStatus.COMPLETED and after.step == 40
    assert _loss_steps(store, run.id) == list(range(1, 41))  # no gap, no duplicate step
    reasons = [e.reason for e in runs.events(store, run.id)]
    assert f"resume requested from checkpoint step {resume_from}" in reasons


def test_worker_outlives_the_command_that_started_it(store: Store, run_file) -> None:
    path = run_file(steps=40, ckpt_every=40)
    proc = subprocess.run([spark_trainer_exe(), "--home", str(store.home.root), "--json", "train", str(path)],
                          capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr
    run_id = int(json.loads(proc.stdout)["id"])
    seen_steps = set()

    def progress(r):
        seen_steps.add(r.step)
        return finished(r)

    run = wait_until(store, run_id, progress, timeout_s=120)
    assert run.status == RunStatus.COMPLETED and run.step == 40
    assert run.heartbeat_at is not None
    assert len(seen_steps) >= 2  # this process watched it advance


def test_cancel_saves_a_checkpoint_and_pause_resume_completes(store: Store, run_file) -> None:
    # Two runs train at once; each is stopped as soon as it is seen training. Both were once waited for
    # first, then cancelled and paused in turn: while the cancel was awaited, the other run trained all
    # of its 300 steps (a fresh-clone run saw it), and "completed" cannot be paused.
    pause_me = _submit(store, run_file("pause-me", steps=300, ckpt_every=1000))
    cancel_me = _submit(store, run_file("cancel-me", steps=5000, ckpt_every=1000))  # never ends by itself
    settings.set_value(store, "max_concurrent_runs", 2)
    assert sorted(schedule_once(store)) == sorted([pause_me.id, cancel_me.id])

    wait_until(store, pause_me.id, lambda r: r.status == RunStatus.RUNNING and r.step >= 5, timeout_s=120)
    paused = control.pause(store, pause_me.id, grace_s=60)
    assert paused.status == RunStatus.PAUSED and paused.step < 300
    assert latest_checkpoint(Path(paused.run_dir)) is not None

    wait_until(store, cancel_me.id, lambda r: r.status == RunStatus.RUNNING and r.step >= 5, timeout_s=120)
    stopped = control.cancel(store, cancel_me.id, grace_s=60)
    assert stopped.status == RunStatus.CANCELLED
    checkpoint = latest_checkpoint(Path(stopped.run_dir))
    assert checkpoint is not None and checkpoint_step(checkpoint) == stopped.step < 5000
    assert "cancelled by request; checkpoint at step" in runs.events(store, cancel_me.id)[-1].reason

    control.resume(store, pause_me.id)
    schedule_once(store)
    done = wait_until(store, pause_me.id, finished, timeout_s=180)
    assert done.status == RunStatus.COMPLETED
    assert _loss_steps(store, pause_me.id) == list(range(1, 301))


def test_two_process_distributed_run_on_cpu(store: Store, run_file) -> None:
    path = run_file(name="ddp", steps=6, ckpt_every=3, gpus="cpu:2")
    run = _submit(store, path)
    schedule_once(store)
    done = wait_until(store, run.id, finished, timeout_s=240)
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log
    assert "x2" in log  # the engine saw two processes
    assert _loss_steps(store, run.id) == list(range(1, 7))  # rank 0 alone wrote metrics
    assert [a.step for a in artifacts.list_for(store, run.id, kind="checkpoint")].count(6) == 1


def test_worker_role_is_hidden_from_help(cli) -> None:
    """`spark-trainer --help`, in this process (`python -m spark_trainer` calls the same main)."""
    shown = cli("--help", use_home=False)
    assert shown.code == 0 and "usage:" in shown.out
    assert "worker" not in shown.out and "SUPPRESS" not in shown.out
