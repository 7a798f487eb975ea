"""A run claimed by a scheduler killed outright before it spawned the worker (spark_trainer/jobs/claim_lock.py).

Seen: a scheduler killed with SIGKILL right after its claim left the run starting for a minute, until
reconcile gave up on the spawn; with max concurrent runs 1 nothing else started meanwhile, and the
run then ended interrupted, started by no one. The next scheduling pass now queues it again and starts
it at once, and never while its claimer (or the worker it forked) is alive."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_trainer.jobs import claim_lock
from spark_trainer.jobs.scheduler import make_picker, schedule_once
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

REPO = Path(__file__).resolve().parents[2]

# A scheduler pass in its own process that claims the queued run, then stops where it would spawn its
# worker ("before": the worker is not forked yet; "forked": the worker, a sleeper here, was forked and
# its pid is not recorded yet) and says so on stdout, until the test kills it.
CLAIMER = r"""
import sys, time
from pathlib import Path
from spark_trainer.jobs import chain_keeper, process, scheduler
from spark_trainer.store.store import Store

home, mode = Path(sys.argv[1]), sys.argv[2]
real_spawn = process.spawn_worker

def spawn(run_id, run_dir, home_root, gpus, claim_fd=None):
    worker = 0
    if mode == "forked":
        process.worker_command = lambda *_args: [sys.executable, "-c", "import time; time.sleep(120)"]
        chain_keeper.spawn = lambda *_args: None
        worker = real_spawn(run_id, run_dir, home_root, gpus, *([] if claim_fd is None else [claim_fd])).pid
    print(f"claimed {run_id} {worker}", flush=True)
    time.sleep(120)

process.spawn_worker = spawn
with Store.open(home) as store:
    scheduler.schedule_once(store, machine=[])
"""


def _claimer(store: Store, mode: str) -> tuple[subprocess.Popen, int]:
    """A scheduler process stopped between its claim and its worker's recorded pid; it and its worker's pid."""
    proc = subprocess.Popen([sys.executable, "-c", CLAIMER, str(store.home.root), mode], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("claimed"):
        proc.kill()
        pytest.fail(f"the claimer did not claim: {line!r} {proc.communicate()[1][-2000:]}")
    return proc, int(line.split()[2])


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_a_run_whose_claimer_was_killed_before_the_spawn_starts_on_the_next_pass(store: Store, experiment,
                                                                                 spawned) -> None:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    behind = runs.create(store, experiment.id, requested_gpus="cpu")  # max concurrent runs 1: waits for it
    claimer, _ = _claimer(store, "before")
    try:
        # Its claimer is alive and about to spawn the worker: the run is left to it.
        assert schedule_once(store, machine=[]) == [] and spawned == []
        assert runs.get(store, run.id).status == RunStatus.STARTING
    finally:
        _kill(claimer)  # SIGKILL: no `finally` of the claimer puts the run back

    began = time.monotonic()
    assert schedule_once(store, machine=[]) == [run.id] == spawned  # not a minute later, and not run `behind`
    assert time.monotonic() - began < 5
    assert runs.get(store, behind.id).status == RunStatus.QUEUED
    reasons = [e.reason for e in runs.events(store, run.id)]
    assert f"put back in the queue: the scheduler that claimed it (pid {claimer.pid}) ended before it started a " \
           "worker" in reasons
    assert [e.to_status for e in runs.events(store, run.id)][-3:] == ["starting", "queued", "starting"]


def test_a_run_whose_claimer_was_killed_after_forking_its_worker_is_left_to_that_worker(store: Store, experiment,
                                                                                        spawned) -> None:
    """The forked worker records itself and trains (its pid not recorded yet by the claimer): the run
    stays starting while it lives; a worker gone too before recording itself means nothing trains it."""
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    claimer, worker = _claimer(store, "forked")
    try:
        _kill(claimer)
        for _ in range(3):
            assert schedule_once(store, machine=[]) == [] and spawned == []
            assert (runs.get(store, run.id).status, runs.get(store, run.id).pid) == (RunStatus.STARTING, None)
    finally:
        os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10  # the sleeper is no child of this process: wait for it to go
    while time.monotonic() < deadline and not spawned:
        schedule_once(store, machine=[])
        time.sleep(0.05)
    assert spawned == [run.id]


def test_only_a_free_lock_that_names_this_claim_puts_a_run_back(store: Store, experiment) -> None:
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    pick = make_picker([], 1, False)
    held = claim_lock.Held()
    [claimed] = runs.claim(store, pick, held.take)
    assert not claim_lock.put_back_if_abandoned(store, claimed)  # its claimer holds the lock
    held.release_all()  # its claimer gone
    assert claim_lock.put_back_if_abandoned(store, claimed)
    assert runs.get(store, run.id).status == RunStatus.QUEUED

    # Claimed again by a scheduler that takes no lock (an older SparkTrainer): the lock file names the
    # earlier claim, so this one keeps the age rule.
    [again] = runs.claim(store, pick)
    assert not claim_lock.put_back_if_abandoned(store, again)
    # A view of the run from before another claim does not put back the claim made since.
    assert runs.unclaim(store, [run.id], "test", claimed_at={run.id: claimed.heartbeat_at}) == []
    assert runs.get(store, run.id).status == RunStatus.STARTING


def test_a_worker_takes_only_its_own_claim_lock(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / claim_lock.LOCK_NAME).write_text("")
    fd = os.open(tmp_path / claim_lock.LOCK_NAME, os.O_RDWR)
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT)
    try:
        monkeypatch.setenv(claim_lock.ENV, str(other))
        assert claim_lock.inherited(tmp_path) is None and claim_lock.ENV not in os.environ
        monkeypatch.setenv(claim_lock.ENV, str(fd))
        assert claim_lock.inherited(tmp_path) == fd and claim_lock.ENV not in os.environ
    finally:
        os.close(fd)
        os.close(other)


def test_a_real_worker_holds_its_claim_lock_only_until_it_has_recorded_itself(store: Store, run_file,
                                                                                monkeypatch) -> None:
    from spark_trainer.config import load_config
    from spark_trainer.jobs import control, portable
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.training.reporting import START_UP_DELAY_ENV

    monkeypatch.setenv(START_UP_DELAY_ENV, "600")  # the worker "loads its model" until it is cancelled
    path = run_file("claimed")
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    try:
        assert schedule_once(store) == [run.id]
        claimed = runs.get(store, run.id)
        lock = Path(run.run_dir) / claim_lock.LOCK_NAME
        assert lock.read_text().split()[:2] == [str(run.id), claimed.heartbeat_at.isoformat()]
        deadline = time.monotonic() + 120
        while runs.get(store, run.id).status != RunStatus.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker = runs.get(store, run.id).pid
        held = {os.path.realpath(f"/proc/{worker}/fd/{fd}") for fd in os.listdir(f"/proc/{worker}/fd")}
        assert str(lock.resolve()) not in held  # let go once it named itself on the run
        fd = os.open(lock, os.O_RDWR)
        try:
            assert portable.try_lock(fd) is True  # nor does anyone else hold it (the scheduler let go)
        finally:
            os.close(fd)
    finally:
        control.cancel(store, run.id, grace_s=5)


def test_no_claim_lock_on_a_network_filesystem(store: Store, experiment, monkeypatch) -> None:
    # Its locks may be kept by the server, per process: the worker would not hold its claimer's.
    from spark_trainer import disk

    monkeypatch.setattr(disk, "network_filesystem", lambda path, mounts=None: "nfs4 from server:/homes")
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    held = claim_lock.Held()
    [claimed] = runs.claim(store, make_picker([], 1, False), held.take)
    assert held.fds == {} and not (Path(run.run_dir) / claim_lock.LOCK_NAME).exists()
    assert not claim_lock.put_back_if_abandoned(store, claimed)  # the age rule, as before


def test_no_claim_lock_where_a_worker_would_not_share_it(store: Store, experiment, windows_like) -> None:
    # Windows: msvcrt's locks are the process's that took them; the age rule is kept there.
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    held = claim_lock.Held()
    runs.claim(store, make_picker([], 1, False), held.take)
    assert held.fds == {} and not (Path(run.run_dir) / claim_lock.LOCK_NAME).exists()


def test_a_slow_start_whose_claimer_lives_is_not_called_interrupted_after_a_minute(store: Store, experiment,
                                                                                   monkeypatch) -> None:
    """A worker importing torch on a loaded machine recorded itself after more than a minute: reconcile had
    called its run interrupted though its claimer (holding the claim's lock) was alive. It now waits for
    it up to LIVE_SPAWN_TIMEOUT, then takes it for hung, saying so."""
    from spark_trainer.jobs import reconcile as reconciling

    run = runs.create(store, experiment.id, requested_gpus="cpu")
    held = claim_lock.Held()
    [claimed] = runs.claim(store, make_picker([], 1, False), held.take)
    later = claimed.heartbeat_at
    monkeypatch.setattr(reconciling, "utcnow", lambda: later)
    try:
        later = claimed.heartbeat_at + reconciling.SPAWN_TIMEOUT * 3  # three minutes: alive, only slow
        assert reconciling.reconcile(store) == []
        assert runs.get(store, run.id).status == RunStatus.STARTING
        later = claimed.heartbeat_at + reconciling.LIVE_SPAWN_TIMEOUT * 1.01
        assert reconciling.reconcile(store) == [run.id]
        gone = runs.get(store, run.id)
        assert gone.status == RunStatus.INTERRUPTED
        assert [e.reason for e in runs.events(store, run.id)][-1] == (
            "no worker process recorded itself for the run within 10 min of its start, though the program that "
            "started it still runs: taken for hung while starting")
    finally:
        held.release_all()
    # Claimed by a scheduler that takes no lock (an older SparkTrainer): the minute's rule, as before.
    other = runs.create(store, experiment.id, requested_gpus="cpu")
    [unlocked] = runs.claim(store, make_picker([], 1, False))
    assert unlocked.id == other.id
    later = unlocked.heartbeat_at + reconciling.SPAWN_TIMEOUT * 1.5
    assert reconciling.reconcile(store) == [other.id]
    assert runs.get(store, other.id).status == RunStatus.INTERRUPTED
