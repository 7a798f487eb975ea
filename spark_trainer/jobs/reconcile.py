"""Reconcile: make the store agree with the processes that are really alive.

A run marked starting/running whose worker is gone, or whose pid now belongs to another process
(different start time), becomes `interrupted` with the tail of its log as the error; one that was
still starting because its worker, of an older SparkTrainer, refused the database this version
migrated is then queued again (`_queue_again`); one starting with no worker recorded whose claimer
ended before it spawned one (its claim lock free, jobs/claim_lock.py) is queued again at once. A worker that
is alive but silent (stopped, deadlocked, stuck in I/O: its heartbeat is older than the setting
`heartbeat_timeout_seconds`) makes its run `stalled`; if it stays silent for `stall_grace_seconds`
more after being marked, its process group (its process tree on Windows) is killed and the run becomes `interrupted` (resumable from its last
checkpoint). A worker stopped inside a database write holds the write lock, so "stalled" cannot be
written: past the same grace it is killed all the same, which frees the lock. It is cheap: one query and a psutil look-up per active run, so every scheduler (GUI,
`queue serve`, `--wait`) and every command that reads runs calls it. Its sweep of leftovers (a
process's first pass over a home, then every LEFTOVER_SWEEP_S) also puts back the files of an extend
killed before its database write (jobs/extend_files.py).
"""

from __future__ import annotations

import re
import sys
import time
from datetime import timedelta
from pathlib import Path

from spark_trainer.errors import BadInput, DatabaseLocked, DiskFull, IllegalTransition, SparkError
from spark_trainer.jobs import checkpoint_records, claim_lock, extend_files, leftovers, portable, process, space_reserve
from spark_trainer.store import runs, settings, stale_summaries
from spark_trainer.store.entities import LOG_TAIL_INTRO, Run, RunStatus, utcnow
from spark_trainer.store.store import Store, write_lock_holders

# A run claimed by a scheduler that died before it could spawn the worker has no pid. One whose claim
# lock is free is queued again at once (jobs/claim_lock.py); one claimed without that lock (an older
# SparkTrainer, Windows) is given this long for its spawn before it is called interrupted.
SPAWN_TIMEOUT = timedelta(seconds=60)
# A claim whose lock its claimer (or the worker it forked) still holds is alive, only slow: a worker
# importing torch on a loaded machine took more than a minute and was called interrupted. It is given
# this long before it is taken for hung.
LIVE_SPAWN_TIMEOUT = timedelta(minutes=10)
# When this process last removed each home's dead pins and stagings (time.monotonic()). A sweep lists
# every run's folder (0.42 s for 2,000 runs, measured on a loaded 2-core machine), so the app's scheduler
# pass, every poll, sweeps at its first pass and then once every LEFTOVER_SWEEP_S.
_swept: dict[str, float] = {}
LEFTOVER_SWEEP_S = 300.0


def _is_lost(run: Run) -> bool:
    if run.pid is None:
        if run.heartbeat_at is None or utcnow() - run.heartbeat_at <= SPAWN_TIMEOUT:
            return False
        return utcnow() - run.heartbeat_at > LIVE_SPAWN_TIMEOUT or not claim_lock.claimer_lives(run)
    return not process.is_alive(run.pid, run.pid_start_time)


def _silence_s(run: Run) -> float:
    return (utcnow() - run.heartbeat_at).total_seconds() if run.heartbeat_at is not None else 0.0


def _stalled_for_s(store: Store, run: Run) -> float:
    """Seconds since `run` was last marked stalled (0 if it never was: then it is not killed yet)."""
    marked = [e.created_at for e in runs.events(store, run.id) if e.to_status == RunStatus.STALLED.value]
    return (utcnow() - marked[-1]).total_seconds() if marked else 0.0


def _mark(store: Store, run: Run, to: RunStatus, reason: str, *, strict: bool = False, **fields: object) -> bool:
    try:
        runs.transition(store, run.id, to, reason, expect={run.status}, **fields)
    except (BadInput, IllegalTransition):
        return False  # the worker (or another reconciler) changed it meanwhile
    except (DiskFull, DatabaseLocked):
        # The database's disk is full, or another process holds its write lock (perhaps the very
        # worker that stopped, frozen inside a write): the run keeps its status until a later
        # reconcile can write (every scheduler tick and run command tries again), rather than failing
        # the read the caller came for. The worker's log says what happened meanwhile.
        if strict:
            raise
        return False
    if to == RunStatus.INTERRUPTED and run.run_dir:
        space_reserve.release(Path(run.run_dir))  # a dead worker's held-back space
        try:  # checkpoints it wrote but could not record (a full database disk, or killed between the two)
            checkpoint_records.record_missing(store, run, why=checkpoint_records.WORKER_STOPPED)
        except SparkError:
            pass  # the database cannot be written after all; the run's resume records them
    return True


def _lost_why(run: Run) -> str:
    """Why a lost run's worker is taken for gone, as far as anyone here can know: it is no child of
    this process, so neither its exit code nor a signal that ended it can be read."""
    if run.pid is None and claim_lock.claimer_lives(run):  # alive past LIVE_SPAWN_TIMEOUT: hung
        return (f"no worker process recorded itself for the run within {LIVE_SPAWN_TIMEOUT.seconds // 60} min of "
                "its start, though the program that started it still runs: taken for hung while starting")
    if run.pid is None:  # claimed, but no worker recorded itself within SPAWN_TIMEOUT
        return (f"no worker process was recorded for the run within {SPAWN_TIMEOUT.seconds} s of its start "
                "(the program that started it may have ended first)")
    if process.identity(run.pid) is not None:
        return (f"the worker process (pid {run.pid}) is gone: that pid now belongs to another process; it ended "
                "without recording how the run ended")
    where = "? see `dmesg`" if sys.platform.startswith("linux") else "?"
    return (f"the worker process (pid {run.pid}) ended without recording how the run ended (killed? out of "
            f"memory{where})")


def _error_with_log(run: Run, why: str) -> str:
    tail = process.log_tail(Path(run.run_dir)) if run.run_dir else ""
    return f"{why}{LOG_TAIL_INTRO}\n{tail}" if tail else why


# An older SparkTrainer's worker refusing the database a newer one migrated, in both wordings since
# workers check the schema (store.Store.open): the revision it found.
_REFUSED = re.compile(r"is at schema revision '([^']+)'(?:, newer than this SparkTrainer's|; this SparkTrainer needs)")


def _queue_again(store: Store, run: Run, error: str) -> bool:
    """Queue again a run just marked interrupted whose worker, started by an older SparkTrainer still
    running (a worker of its that started the next run, its app, its `queue serve`), refused the
    database this version migrated: it was still starting, so no worker recorded itself and nothing of
    this attempt was trained, and this version's worker takes the database. A run paused or cancelled
    by the user is never starting (the stop marks it), and a resumed one was asked to run. Once per
    revision: an old scheduler still alive would claim it again, and the run then stays interrupted."""
    from spark_trainer.store.migrate import HEAD_REVISION

    found = _REFUSED.search(error) if run.status == RunStatus.STARTING else None
    if found is None or found.group(1) != HEAD_REVISION:
        return False  # trained, or died of something else at its start (which would only happen again)
    reason = (f"queued again: its worker, started by an older SparkTrainer, refused the database at revision "
              f"{HEAD_REVISION}, which this version uses; nothing was trained")
    if any(event.reason == reason for event in runs.events(store, run.id)):
        return False
    try:
        runs.transition(store, run.id, RunStatus.QUEUED, reason, expect={RunStatus.INTERRUPTED}, error=None)
    except (BadInput, IllegalTransition, DiskFull, DatabaseLocked):
        return False  # resumed, cancelled or queued meanwhile; or it cannot be written: interrupted it stays
    return True


def _settle_evaluations(store: Store) -> None:
    """Evaluations whose worker is gone (or never started) become failed, as lost runs are interrupted."""
    from spark_trainer.evaluation.jobs import refresh_active

    try:
        refresh_active(store)
    except (DiskFull, DatabaseLocked):
        pass  # recorded by a later reconcile, as a lost run is


def reconcile(store: Store, *, strict: bool = False) -> list[int]:
    """Mark lost runs interrupted, silent ones stalled (and kill those silent too long); returns
    the ids of runs that became interrupted. A lost run that cannot be recorded because the
    database's disk is full stays as it is (DiskFull is raised instead with `strict`, for callers
    about to write anyway)."""
    stale_summaries.refresh(store)  # runs an older worker was writing when the database was upgraded
    last = _swept.get(str(store.home.root))
    if last is None or time.monotonic() - last >= LEFTOVER_SWEEP_S:  # a killed export's or evaluation's folders
        _swept[str(store.home.root)] = time.monotonic()  # (jobs/leftovers.py)
        leftovers.sweep_home(store.home.runs_dir, store.home.exports_dir, store.home.datasets_dir,
                             store.home.video_cache_dir)
        extend_files.undo_dead_extends(store)  # the files of an extend killed before its database write
    _settle_evaluations(store)
    config = settings.get_all(store)
    timeout = float(config["heartbeat_timeout_seconds"])
    grace = float(config["stall_grace_seconds"])
    lost = []
    for run in runs.list_all(store, statuses=set(runs.ACTIVE)):
        if run.ran_on != "local" and run.status == RunStatus.RUNNING and run.pid is None:
            continue  # a cluster job imported while running: it lives elsewhere; importing again updates it
        if claim_lock.put_back_if_abandoned(store, run):
            continue  # its claimer ended before it spawned a worker: queued again, at once
        if _is_lost(run):
            why = _lost_why(run)
            error = _error_with_log(run, why)
            if _mark(store, run, RunStatus.INTERRUPTED, why, strict=strict, error=error, eta_seconds=None) and \
                    not _queue_again(store, run, error):
                lost.append(run.id)
            continue
        silent = _silence_s(run)
        if run.pid is None or silent <= timeout:
            continue
        locked = False
        if run.status != RunStatus.STALLED:
            try:
                _mark(store, run, RunStatus.STALLED,
                      f"no heartbeat for {silent:.0f} s (threshold {timeout:g} s): worker pid {run.pid} is alive but "
                      f"silent; it will be killed if it stays silent for {grace:g} s more", strict=True, eta_seconds=None)
                continue  # killed by a later reconcile if it stays silent
            except DiskFull:
                continue
            except DatabaseLocked:
                # A worker frozen inside a write holds the database's lock: "stalled" cannot be
                # written, nor anything else until the worker is gone. Past the grace it is killed all
                # the same (the busy timeout just spent counts as silence too). Workers merely waiting
                # on the lock are silent as well: where the holder can be told (Linux), only it is.
                holders = write_lock_holders(store.home.db_path)
                if (holders is not None and not portable.in_group(run.pid, holders)) or _silence_s(run) <= timeout + grace:
                    continue
                locked = True
        elif silent <= timeout + grace or _stalled_for_s(store, run) <= grace:
            # The grace counts from when it was marked stalled, not from its last heartbeat: after the
            # machine slept for hours every heartbeat is hours old, and the worker (asleep too, not
            # hung) beats within seconds of waking; the second reconcile after waking must not kill it.
            continue
        silent = _silence_s(run)
        process.kill_group(run.pid, run.pid_start_time)
        why = (f"worker stalled: no heartbeat for {silent:.0f} s"
               f"{' (the database stayed locked, so it could not be marked stalled first)' if locked else ''}; "
               "its process group was killed")
        if _mark(store, run, RunStatus.INTERRUPTED, why, error=_error_with_log(run, why), eta_seconds=None):
            lost.append(run.id)
    return lost
