"""Reconcile and process control with real processes: a dead worker, a reused pid, a worker that
ignores SIGTERM and is killed with its whole process group after the grace period."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from spark_trainer.errors import BadInput
from spark_trainer.jobs import control, process
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.migrate import HEAD_REVISION
from spark_trainer.store.store import Store

# Ignores SIGTERM, starts a child in its group that ignores it too, then sleeps.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _running(store: Store, experiment, gpus: str = "cpu", machine: list[int] | None = None) -> Run:
    """A run claimed as a scheduler would (queued -> starting), then marked running."""
    run = runs.create(store, experiment.id, requested_gpus=gpus)
    runs.claim(store, make_picker(machine or [], 4, False))
    return runs.transition(store, run.id, RunStatus.RUNNING, "test worker started")


def test_dead_worker_becomes_interrupted_with_its_log_tail(store: Store, experiment) -> None:
    run = _running(store, experiment)
    proc = subprocess.Popen([sys.executable, "-c", "print('loss exploded at step 7')"])
    proc.wait()
    Path(run.run_dir).mkdir(parents=True, exist_ok=True)
    # transformers' load report, as a kill -9 left it at the end of the log: bold and colour escapes.
    (Path(run.run_dir) / "worker.log").write_text("step 6 ok\n\x1b[1mLOAD REPORT\x1b[0m from: m\n"
                                                  "\x1b[38;5;196mloss exploded at step 7\x1b[0m\n")
    runs.update(store, run.id, pid=proc.pid, pid_start_time=time.time())
    assert reconcile(store) == [run.id]
    after = runs.get(store, run.id)
    assert after.status == RunStatus.INTERRUPTED
    # The first line says what a user can act on ("worker process is gone" said nothing of why), and the
    # quoted lines are text, without the escapes.
    why = f"the worker process (pid {proc.pid}) ended without recording how the run ended (killed? out of memory"
    assert after.error.startswith(why), after.error
    assert after.error.endswith("last lines of worker.log:\nstep 6 ok\nLOAD REPORT from: m\nloss exploded at step 7")
    assert "\x1b" not in after.error
    last = runs.events(store, run.id)[-1]
    assert last.to_status == "interrupted" and last.reason.startswith(why)
    assert reconcile(store) == []  # nothing left to fix


def test_reused_pid_is_not_mistaken_for_the_worker(store: Store, experiment) -> None:
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real_start = process.identity(unrelated.pid).start_time  # as the store records it
        alive = _running(store, experiment)
        runs.update(store, alive.id, pid=unrelated.pid, pid_start_time=real_start)
        reused = _running(store, experiment)
        # The worker that had this pid started earlier; the pid now belongs to another process.
        runs.update(store, reused.id, pid=unrelated.pid, pid_start_time=real_start - 3600)
        assert reconcile(store) == [reused.id]
        assert runs.get(store, alive.id).status == RunStatus.RUNNING
        gone = runs.get(store, reused.id)
        assert gone.status == RunStatus.INTERRUPTED and "belongs to another process" in gone.error
        assert unrelated.poll() is None  # reconcile never touches the unrelated process
    finally:
        unrelated.kill()
        unrelated.wait()


def test_stubborn_worker_is_killed_after_grace_and_its_gpu_released(store: Store, experiment) -> None:
    run = _running(store, experiment, gpus="0,", machine=[0])
    assert run.gpus == [0]
    waiting = runs.create(store, experiment.id, requested_gpus="0,")
    assert runs.claim(store, make_picker([0], 4, False)) == []  # GPU 0 is taken
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    child_pid = int(proc.stdout.readline())
    me = process.identity(proc.pid)
    runs.update(store, run.id, pid=me.pid, pid_start_time=me.start_time)

    began = time.monotonic()
    stopped = control.cancel(store, run.id, grace_s=1.0)
    waited = time.monotonic() - began
    proc.wait(timeout=10)
    assert stopped.status == RunStatus.CANCELLED
    assert "killed after the 1 s grace period" in runs.events(store, run.id)[-1].reason
    assert waited >= 1.0  # it was given the grace period first
    assert not process.is_alive(child_pid, None) or psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
    claimed = runs.claim(store, make_picker([0], 4, False))
    assert [(r.id, r.gpus) for r in claimed] == [(waiting.id, [0])]


def test_cancel_and_pause_refuse_what_they_cannot_do(store: Store, experiment) -> None:
    with pytest.raises(BadInput, match="no run with id '99'"):
        control.cancel(store, 99)
    queued = runs.create(store, experiment.id, requested_gpus="cpu")
    with pytest.raises(BadInput, match="queued and has not started"):
        control.pause(store, queued.id)
    assert control.cancel(store, queued.id).status == RunStatus.CANCELLED
    with pytest.raises(BadInput, match="is cancelled"):
        control.cancel(store, queued.id)


# Waits for a line on stdin, then holds the database's write lock and sleeps: a worker stopped in the
# middle of a write (SIGSTOP, a hung disk) looks so to every other process.
LOCK_HOLDER = """
import sqlite3, sys, time
sys.stdin.readline()
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(120)
"""


RANK_PARENT = """
import subprocess, sys
sys.exit(subprocess.run([sys.executable, "-c", sys.argv[1], sys.argv[2]]).returncode)
"""


def test_a_worker_frozen_inside_a_write_is_killed_though_stalled_cannot_be_written(store: Store, experiment) -> None:
    from datetime import timedelta

    from spark_trainer.store import settings
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.store import write_lock_holders

    settings.set_value(store, "heartbeat_timeout_seconds", 1)
    settings.set_value(store, "stall_grace_seconds", 1)
    run, bystander = _running(store, experiment), _running(store, experiment)
    waiting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a worker waiting on the lock
    # The worker (a group leader) with a rank process in its group that writes, as rank 0 does.
    holder = subprocess.Popen([sys.executable, "-c", RANK_PARENT, LOCK_HOLDER, str(store.home.db_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        me = process.identity(holder.pid)
        long_ago = utcnow() - timedelta(seconds=5)
        runs.update(store, run.id, pid=me.pid, pid_start_time=me.start_time, heartbeat_at=long_ago)
        other = process.identity(waiting.pid)
        runs.update(store, bystander.id, pid=other.pid, pid_start_time=other.start_time, heartbeat_at=long_ago)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "locked"
        (rank,) = write_lock_holders(store.home.db_path)
        assert rank != me.pid and os.getpgid(rank) == me.pid
        with Store.open(store.home, busy_timeout_ms=300) as impatient:  # waits 0.3 s for the lock, not 30
            assert reconcile(impatient) == [run.id]  # no "database is locked" error: the holder was killed
            # Silent too, but only waiting on the lock: never killed (once the lock is free it can be
            # marked stalled, and its next heartbeat makes it running again).
            assert runs.get(impatient, bystander.id).status in (RunStatus.RUNNING, RunStatus.STALLED)
        assert not process.is_alive(me.pid, me.start_time)  # (reconcile reaped it: no exit status is left)
        assert not process.is_alive(rank, None) or psutil.Process(rank).status() == psutil.STATUS_ZOMBIE
        after = runs.get(store, run.id)
        assert after.status == RunStatus.INTERRUPTED
        assert "could not be marked stalled first" in after.error and "process group was killed" in after.error
        assert waiting.poll() is None
    finally:
        holder.kill()
        holder.wait()
        waiting.kill()
        waiting.wait()


def test_a_worker_that_slept_with_the_machine_is_not_killed_on_waking(store: Store, experiment, monkeypatch) -> None:
    """After a suspend every heartbeat is hours old; the worker beats within seconds of waking, so the
    reconcile right after marking it stalled must not kill it: the grace counts from the marking."""
    from datetime import timedelta

    from spark_trainer.jobs import reconcile as reconciling
    from spark_trainer.store import settings
    from spark_trainer.store.entities import utcnow

    settings.set_value(store, "heartbeat_timeout_seconds", 120)
    settings.set_value(store, "stall_grace_seconds", 120)
    run = _running(store, experiment)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        me = process.identity(worker.pid)
        runs.update(store, run.id, pid=me.pid, pid_start_time=me.start_time,
                    heartbeat_at=utcnow() - timedelta(hours=8))  # the machine slept overnight
        assert reconcile(store) == []
        assert runs.get(store, run.id).status == RunStatus.STALLED
        assert reconcile(store) == []  # a second look, before the worker's first beat after waking
        assert runs.get(store, run.id).status == RunStatus.STALLED and worker.poll() is None
        assert runs.beat(store, run.id) == RunStatus.RUNNING  # it beats: running again

        # Really hung this time: silent through the whole grace after being marked, it is killed.
        runs.update(store, run.id, heartbeat_at=utcnow() - timedelta(hours=1))
        assert reconcile(store) == [] and runs.get(store, run.id).status == RunStatus.STALLED
        later = utcnow() + timedelta(seconds=121)
        monkeypatch.setattr(reconciling, "utcnow", lambda: later)
        assert reconcile(store) == [run.id]
        assert not process.is_alive(me.pid, me.start_time)  # (reconcile reaped it: no exit status is left)
        assert "no heartbeat for" in runs.get(store, run.id).error
    finally:
        worker.kill()
        worker.wait()


NEWER = ("error: database {db} is at schema revision '{rev}', newer than this SparkTrainer's '0009': a newer "
         "version migrated it, and this process (started by an older version still running) cannot use it; the "
         "newer version's scheduler starts queued runs")
NEEDS = ("error: database {db} is at schema revision '{rev}'; this SparkTrainer needs '0007' (open it once with the "
         "app or any spark-trainer command to migrate it)")


def _died_starting(store: Store, experiment, last_line: str) -> Run:
    """A run claimed and spawned, whose worker ended before recording itself, `last_line` the last of its log."""
    run = runs.create(store, experiment.id, requested_gpus="cpu")
    runs.claim(store, make_picker([], 4, False))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    Path(run.run_dir, "worker.log").write_text(last_line.format(db=store.home.db_path, rev=HEAD_REVISION) + "\n")
    runs.update(store, run.id, pid=proc.pid, pid_start_time=time.time())
    return runs.get(store, run.id)


@pytest.mark.parametrize("wording", [NEWER, NEEDS])
def test_a_run_whose_older_worker_refused_the_migrated_database_is_queued_again(store: Store, experiment,
                                                                                wording: str) -> None:
    """Seen: a run started by an older version's worker chain, against a home the newer version had
    migrated, ended interrupted at step 0 (its worker refused the database and exited), and waited for a
    resume by hand. It trained nothing (it was still starting), and this version's worker takes the database."""
    run = _died_starting(store, experiment, wording)
    assert reconcile(store) == []
    again = runs.get(store, run.id)
    assert again.status == RunStatus.QUEUED and again.error is None
    events = runs.events(store, run.id)
    assert [e.to_status for e in events[-2:]] == ["interrupted", "queued"]
    assert events[-1].reason.startswith("queued again: its worker, started by an older SparkTrainer, refused the "
                                        f"database at revision {HEAD_REVISION}")

    # Refused once more (an old scheduler still alive claimed it again): interrupted, not queued for ever.
    runs.claim(store, make_picker([], 4, False))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    runs.update(store, run.id, pid=proc.pid, pid_start_time=time.time())
    assert reconcile(store) == [run.id]
    assert runs.get(store, run.id).status == RunStatus.INTERRUPTED


def test_runs_that_trained_or_died_otherwise_at_their_start_stay_interrupted(store: Store, experiment) -> None:
    crashed = _died_starting(store, experiment, "ImportError: libcudart.so.12: cannot open shared object file")
    other = _died_starting(store, experiment, NEWER.replace("{rev}", "0099"))  # a revision this version lacks
    trained = _died_starting(store, experiment, NEWER)  # an earlier attempt's line; this worker ran, then died
    runs.transition(store, trained.id, RunStatus.RUNNING, "worker started", step=0)
    assert sorted(reconcile(store)) == [crashed.id, other.id, trained.id]
    assert {runs.get(store, r.id).status for r in (crashed, other, trained)} == {RunStatus.INTERRUPTED}
