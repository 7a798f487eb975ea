"""The worker role: `spark-trainer worker RUN_ID` trains one run and records everything in the store.

It runs detached from whoever started it (own session), with `CUDA_VISIBLE_DEVICES` set by the
scheduler and stdout/stderr going to `runs/<id>/worker.log`. A stop request (SIGTERM on POSIX, or
`runs/<id>/stop-request` appearing, which it polls: all Windows has) asks the engine to save a
checkpoint and stop; whether that means cancel or pause is read from that file.
With several GPUs (or `cpu:N`) it launches one rank process per device (jobs/ranks.py); rank 0
reports, the others only train.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput, DiskFull, SparkError
from spark_trainer.jobs import claim_lock, process, run_lock, space_reserve, worker_log
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.jobs.finish import (
    Finish,
    disk_full_finish,
    engine_failure,
    outcome_finish,
    record_checkpoints,
    record_finish,
    start_up_stop_finish,
)
from spark_trainer.jobs.lean_imports import keep_out_for_run
from spark_trainer.jobs.oom_retry import OperationFailedOOM, train
from spark_trainer.jobs.ranks import launch_ranks, run_rank
from spark_trainer.jobs.submit import frozen_config, upgrade_frozen_config
from spark_trainer.jobs.worker_process import HEARTBEAT_S, install_stop_handler, open_store, say
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus, utcnow
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoint_check import set_aside_damaged
from spark_trainer.training.divergence import Diverged
from spark_trainer.training.reporting import Commands, StopRequested


def _heartbeat(store: Store, run_id: int, stop: threading.Event, log: worker_log.LogHealth | None = None,
               run_dir: Path | None = None, commands: Commands | None = None) -> None:
    """Every HEARTBEAT_S: the run's heartbeat, with what start-up is doing (`Commands.phase_text`)."""
    last_error = None
    log_path = Path(run_dir) / process.LOG_NAME if run_dir is not None else None
    reattach = log_path is not None and worker_log.writes_to(log_path)  # a spawned worker, not a test's
    while not stop.wait(HEARTBEAT_S):
        if reattach:
            worker_log.reattach_if_deleted(log_path)
        try:
            runs.beat(store, run_id, commands.phase_text() if commands is not None else None)
            last_error = None
            _note_log_trouble(store, run_id, log)
        except SparkError as exc:  # a busy database must not kill training; the next beat retries
            if str(exc) != last_error:  # once, not every beat, while the disk stays full
                say(f"heartbeat not recorded: {exc}")
            last_error = str(exc)


def _note_log_trouble(store: Store, run_id: int, log: worker_log.LogHealth | None) -> None:
    """Record, once, that the log lost lines (here, not inside the print that failed)."""
    event = log.pending_report() if log is not None else None
    if event is not None:
        runs.note(store, run_id, event)
        log.reported()


def run_worker(run_id: int, log: worker_log.LogHealth | None = None, *, lean: bool = False) -> int:
    """The worker's main: claim the run as running, train, record how it ended, drain the queue.

    `log` reports lines its log streams had to drop (a full disk); the heartbeat records it as an event.
    `lean`: this process is the run's own, so packages the run cannot need are kept out of it
    (`lean_imports`; never in a process that trains something else afterwards, as `bench` does).
    """
    commands = Commands()
    store = open_store()
    watching = claim = None
    try:
        run = runs.get(store, run_id)
        run_dir = Path(run.run_dir)
        claim = claim_lock.inherited(run_dir)  # proof its claim lives, until this worker is recorded
        watching = install_stop_handler(run_dir, commands)
        me = process.identity(os.getpid())
        foreign = _foreign_folder(run)
        if foreign:
            say(foreign)
            runs.transition(store, run_id, RunStatus.FAILED, "run folder belongs to another run",
                            expect={RunStatus.STARTING}, error=foreign)
            return 1
        lock, holder = run_lock.hold(run_dir)  # released once the outcome is recorded (or at exit)
        if holder is not None:
            return run_lock.leave_to(store, run_id, holder, say)
        try:
            try:
                runs.transition(store, run_id, RunStatus.RUNNING, f"worker started (pid {os.getpid()})",
                                expect={RunStatus.STARTING}, pid=os.getpid(),
                                pid_start_time=me.start_time if me else None, heartbeat_at=utcnow())
            except BadInput as exc:
                say(f"not starting: {exc}")
                return 1
            claim_lock.let_go(claim)  # the run names this worker now
            claim = None
            say(f"run {run_id} running on {('GPUs ' + ','.join(map(str, run.gpus))) if run.gpus else 'CPU'}")
            record_checkpoints(store, run_id, resumed=True)  # a resume: what the last attempt saved, not recorded
            space_reserve.hold(run_dir)
            beat_stop = threading.Event()
            beat = threading.Thread(target=_heartbeat, args=(store, run_id, beat_stop, log, run_dir, commands), daemon=True,
                                    name="heartbeat")
            beat.start()
            if lean:
                keep_out_for_run(run_dir)  # before the engine brings in peft and transformers
            try:
                finish = _train_here_or_ranks(store, run, run_dir, commands)
            finally:
                beat_stop.set()
                beat.join(timeout=5)
                try:
                    _note_log_trouble(store, run_id, log)  # the heartbeat may not have had the chance
                except SparkError:
                    pass  # the database cannot be written either; recording the outcome below says so
                # Before recording the outcome: on a full disk this is the room that lets it be recorded.
                space_reserve.release(run_dir)
            code = record_finish(store, run_id, finish)
            record_checkpoints(store, run_id)
            return code
        finally:
            run_lock.release(lock)  # before draining the queue: a next worker may be this run's
    finally:
        claim_lock.let_go(claim)  # before starting others: their claims are not this one
        if watching is not None:
            watching.set()
        _drain_queue(store)
        store.close()


def _foreign_folder(run: Any) -> str | None:
    """Why this run must not train in its folder (it holds another run's identity), else None.

    A folder from before run uuids existed is adopted: it is the one the store names for this run.
    """
    from spark_trainer.training.checkpoints import read_identity, write_identity

    owner = read_identity(Path(run.run_dir))
    if owner is None:
        write_identity(Path(run.run_dir), run.id, run.uuid)
        return None
    if owner != run.uuid:
        return (f"run folder {run.run_dir} belongs to another run (uuid {owner}, this run is {run.uuid}); "
                "refusing to train on top of its files")
    return None


def _train_here_or_ranks(store: Store, run: Any, run_dir: Path, commands: Commands) -> Finish:
    try:
        for note in upgrade_frozen_config(store, run.id, run_dir):
            say(f"config: {note}")
        for note in set_aside_damaged(run_dir):  # before any rank would fail to load it
            say(note)
            runs.note(store, run.id, note)
        world = gpu_alloc.world_size(gpu_alloc.parse_request(run.requested_gpus), run.gpus)
        if world > 1:
            commands.hand_to_ranks()
            return launch_ranks(store, run.id, run_dir, world, run.gpus, commands)
        config = frozen_config(run_dir)
        return outcome_finish(train(store, run.id, config, run_dir, commands), commands)
    except StopRequested as exc:
        finish = start_up_stop_finish(exc.kind, exc.phase)
        say(finish.reason)
        return finish
    except OperationFailedOOM as exc:
        say(str(exc))
        return Finish(RunStatus.FAILED, "out of memory", error=str(exc))
    except DiskFull as exc:
        return disk_full_finish(exc, run_dir)
    except Diverged as exc:
        say(str(exc))
        return Finish(RunStatus.FAILED, "training diverged", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - any engine failure must end as a failed run, with its message
        return engine_failure(exc)


def _drain_queue(store: Store) -> None:
    """This worker's GPUs are free now: start whatever is queued, so a queue drains with no daemon."""
    from spark_trainer.jobs.scheduler import schedule_once

    try:
        started = schedule_once(store)
    except SparkError as exc:
        say(f"could not start queued runs: {exc}")
        return
    if started:
        say(f"started queued runs: {', '.join(map(str, started))}")


def main(run_id: int, rank: int | None = None) -> int:
    log, old_streams = worker_log.install()  # a full log disk drops lines instead of raising mid-step
    try:
        if rank is not None:
            return run_rank(run_id, rank, lean=True)
        return run_worker(run_id, log, lean=True)
    finally:
        worker_log.restore(old_streams)

