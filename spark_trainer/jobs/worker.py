"""The worker role: `spark-trainer worker RUN_ID` trains one run and records everything in the store.

It runs detached from whoever started it (own session), with `CUDA_VISIBLE_DEVICES` set by the
scheduler and stdout/stderr going to `runs/<id>/worker.log`. SIGTERM asks the engine to save a
checkpoint and stop; whether that means cancel or pause is read from `runs/<id>/stop-request`.
With several GPUs (or `cpu:N`) it launches one rank process per device through torch.distributed
(accelerate reads RANK/WORLD_SIZE/MASTER_ADDR); rank 0 reports, the others only train.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.config import ExperimentConfig, save_config
from spark_trainer.errors import BadInput, DiskFull, SparkError, describe
from spark_trainer.jobs import control, process, run_lock, space_reserve, worker_log
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.jobs.lean_imports import keep_out_for_run, keep_out_unneeded
from spark_trainer.jobs.submit import CONFIG_NAME, frozen_config, upgrade_frozen_config
from spark_trainer.store import datasets, metrics, runs
from spark_trainer.store.entities import RunStatus, utcnow
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoint_check import set_aside_damaged
from spark_trainer.training.divergence import Diverged
from spark_trainer.training.reporting import Commands, StopKind, StopRequested, TrainOutcome

HEARTBEAT_S = 2.0
# A worker's writes wait this long for another process's write lock before failing the run (the app
# and commands wait 30 s). A worker frozen inside a write holds that lock until reconcile kills it,
# past `heartbeat_timeout_seconds` + `stall_grace_seconds` (4 minutes by default): training waits
# that out rather than failing with "database is locked".
WORKER_BUSY_TIMEOUT_MS = 600_000
OUTCOME_NAME = "outcome.json"
OOM_PREFIX = "oom-rank"  # oom-rank<N>.json: rank N ran out of memory (for the launcher to decide)
OOM_EXIT = 3
START_UP_STOP_EXIT = 4  # a rank stopped by request before training: the launcher stops the others at once
START_UP_STOP_GRACE_S = 5.0  # ranks left blocked in a rendezvous or collective with a stopped rank then die


@dataclass
class Finish:
    status: RunStatus
    reason: str
    error: str | None = None
    step: int | None = None


def say(message: str) -> None:
    print(f"[{utcnow():%Y-%m-%d %H:%M:%S}] {message}", flush=True)


def _install_stop_handler(run_dir: Path, commands: Commands) -> None:
    def on_term(_signum: int, _frame: Any) -> None:
        kind = control.requested_stop(run_dir)
        starting = commands.starting
        say(f"SIGTERM received: {kind.value} requested; "
            + ("stopping start-up" if starting else "saving a checkpoint and stopping"))
        commands.request_stop(kind)
        commands.interrupt_start_up()  # inside a long start-up phase (loading the model): raises StopRequested

    signal.signal(signal.SIGTERM, on_term)


def _heartbeat(store: Store, run_id: int, stop: threading.Event, log: worker_log.LogHealth | None = None,
               run_dir: Path | None = None) -> None:
    last_error = None
    log_path = Path(run_dir) / process.LOG_NAME if run_dir is not None else None
    reattach = log_path is not None and worker_log.writes_to(log_path)  # a spawned worker, not a test's
    while not stop.wait(HEARTBEAT_S):
        if reattach:
            worker_log.reattach_if_deleted(log_path)
        try:
            runs.beat(store, run_id)
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


class _SilentReporter:
    """Ranks other than 0 train but report nothing."""

    def on_start(self, *, start_step: int, total_steps: int) -> None: ...
    def on_metrics(self, step: int, values: dict[str, float]) -> None: ...
    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None: ...
    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict | None = None) -> None: ...
    def on_log(self, message: str) -> None: ...
    def flush(self) -> None: ...


def oom_message(micro_batch: int, grad_accum: int) -> str:
    return (f"CUDA out of memory at micro-batch {micro_batch} (grad_accum {grad_accum}); lower train.batch_size "
            f"(e.g. to {max(1, micro_batch // 2)}) and raise train.grad_accum to keep the effective batch, "
            "enable train.gradient_checkpointing, or set train.auto_batch: true")


def train(store: Store, run_id: int, config: ExperimentConfig, run_dir: Path, commands: Commands,
          *, report: bool = True) -> TrainOutcome:
    """Run the engine from the latest complete checkpoint; with `train.auto_batch`, retry an
    out-of-memory with half the micro-batch and double the accumulation (recorded as an event)."""
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
    from spark_trainer.training.engine import OutOfMemory, run_training
    from spark_trainer.training.reporters import StoreReporter

    commands.check_stop()
    data_path = Path(datasets.get(store, config.dataset).path)
    while True:
        checkpoint = latest_checkpoint(run_dir)
        start = checkpoint_step(checkpoint) if checkpoint else 0
        if report:
            # A killed worker may have written metrics past its last checkpoint: drop them so the
            # resumed series has no duplicate steps.
            dropped = metrics.delete_after(store, run_id, start)
            runs.update(store, run_id, step=start)
            if checkpoint:
                say(f"resuming from {checkpoint.name} (dropped {dropped} metric points after step {start})")
        reporter = StoreReporter(store, run_id) if report else _SilentReporter()
        try:
            return run_training(config, data_path=data_path, run_dir=run_dir, reporter=reporter,
                                commands=commands, resume_from=checkpoint)
        except OutOfMemory as exc:
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise  # one rank must not retry alone: the launcher stops every rank and retries them together
            if not config.train.auto_batch or exc.micro_batch <= 1:
                where = getattr(exc, "where", None)
                raise OperationFailedOOM(str(exc) if where else oom_message(exc.micro_batch, exc.grad_accum)) from exc
            config = _halved(store, run_id, config, run_dir, exc.micro_batch, exc.grad_accum,
                             getattr(exc, "where", "a training step"), report)
        # Outside the except block: the failed attempt's tensors are only unreachable once the
        # exception (and its traceback's frames) is gone.
        _free_cuda_memory()


def _halved(store: Store, run_id: int, config: ExperimentConfig, run_dir: Path, micro_batch: int, grad_accum: int,
            where: str, report: bool) -> ExperimentConfig:
    """The auto_batch retry's config: half the micro-batch, double the accumulation (recorded)."""
    config = config.model_copy(deep=True)
    config.train.batch_size = micro_batch // 2
    config.train.grad_accum = grad_accum * 2
    during = "" if where == "a training step" else f" during {where}"
    note = (f"out of memory{during} at micro-batch {micro_batch}; retrying with micro-batch "
            f"{config.train.batch_size} and grad_accum {config.train.grad_accum} (same effective batch)")
    say(note)
    if report:
        runs.note(store, run_id, note)
        save_config(config, run_dir / CONFIG_NAME)
    return config


class OperationFailedOOM(SparkError):
    """Out of memory with no retry left; the message says what to change."""


def _free_cuda_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _outcome_finish(outcome: TrainOutcome, commands: Commands) -> Finish:
    if outcome.status == "completed":
        return Finish(RunStatus.COMPLETED, f"completed {outcome.step} steps", step=outcome.step)
    kind = commands.stop_requested or StopKind.PAUSE
    target = RunStatus.CANCELLED if kind == StopKind.CANCEL else RunStatus.PAUSED
    saved = f"checkpoint at step {outcome.step}" if outcome.last_checkpoint else "no checkpoint"
    return Finish(target, f"{'cancelled' if target == RunStatus.CANCELLED else 'paused'} by request; {saved}",
                  step=outcome.step)


def start_up_stop_finish(kind: StopKind, phase: str) -> Finish:
    """A run stopped by request before its first step: paused or cancelled, with nothing to save."""
    target = RunStatus.CANCELLED if kind == StopKind.CANCEL else RunStatus.PAUSED
    verb = "cancelled" if target == RunStatus.CANCELLED else "paused"
    return Finish(target, f"{verb} by request during start-up ({phase}); no new step was trained, so nothing to save")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_ranks(run_id: int, world: int, gpus: list[int]) -> list[subprocess.Popen]:
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                   LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        if not gpus:
            env["ACCELERATE_USE_CPU"] = "true"
            env.setdefault("OMP_NUM_THREADS", "1")
        procs.append(subprocess.Popen(process.worker_command(run_id, "--rank", str(rank)), env=env,
                                      stdin=subprocess.DEVNULL))
    return procs


def _wait_ranks(procs: list[subprocess.Popen], grace_s: float = 30.0) -> list[int]:
    """Wait for every rank; once one has failed, the others (stuck waiting for it in a collective)
    get `grace_s` to finish, then are killed; once one has stopped during start-up (by request),
    START_UP_STOP_GRACE_S."""
    import time

    failed_at, grace = None, grace_s
    while any(p.poll() is None for p in procs):
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = time.monotonic()
            if any(p.returncode == START_UP_STOP_EXIT for p in procs):
                grace = min(grace_s, START_UP_STOP_GRACE_S)
        if failed_at is not None and time.monotonic() - failed_at > grace:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.2)
    return [p.wait() for p in procs]


def _rank_ooms(run_dir: Path) -> list[dict]:
    found = []
    for path in sorted(run_dir.glob(f"{OOM_PREFIX}*.json")):
        found.append(json.loads(path.read_text()))
        path.unlink()
    return found


def _launch_ranks(store: Store, run_id: int, run_dir: Path, world: int, gpus: list[int],
                  commands: Commands) -> Finish:
    """One process per device; they share this worker's process group, so a kill reaches them.

    An out-of-memory on any rank stops them all; with `train.auto_batch` every rank then restarts
    from the last checkpoint with half the micro-batch (one decision, so no rank waits forever).
    A stop requested before the ranks trained a step ends them all within seconds.
    """
    (run_dir / OUTCOME_NAME).unlink(missing_ok=True)
    _rank_ooms(run_dir)
    commands.check_stop()  # requested while this process prepared the run: no rank is started
    commands.started()  # from here the ranks take a stop (the SIGTERM reaches them too); this process waits
    while True:
        codes = _wait_ranks(_start_ranks(run_id, world, gpus))
        say(f"rank exit codes: {codes}")
        if START_UP_STOP_EXIT in codes:
            return _ranks_stopped_at_start_up(run_dir, commands)
        ooms = _rank_ooms(run_dir)
        if not ooms:
            break
        first = ooms[0]
        config = frozen_config(run_dir)
        if not config.train.auto_batch or first["micro_batch"] <= 1:
            message = first["message"] if first.get("where") else oom_message(first["micro_batch"], first["grad_accum"])
            return Finish(RunStatus.FAILED, "out of memory", error=message)
        _halved(store, run_id, config, run_dir, first["micro_batch"], first["grad_accum"],
                first.get("where") or "a training step", report=True)
    outcome_file = run_dir / OUTCOME_NAME
    data = json.loads(outcome_file.read_text()) if outcome_file.exists() else None
    # Rank 0's own account of a failure (a full disk) explains the other ranks' exits too.
    if data is None or (any(codes) and data["status"] != RunStatus.FAILED.value):
        tail = process.log_tail(run_dir)
        return Finish(RunStatus.FAILED, "a rank process failed", error=f"rank exit codes {codes}\n{tail}")
    return Finish(RunStatus(data["status"]), data["reason"], error=data.get("error"), step=data.get("step"))


def _ranks_stopped_at_start_up(run_dir: Path, commands: Commands) -> Finish:
    """Rank 0's account (it names the start-up phase), else the stop that was requested."""
    outcome_file = run_dir / OUTCOME_NAME
    data = json.loads(outcome_file.read_text()) if outcome_file.exists() else None
    if data is not None and data["status"] in (RunStatus.PAUSED.value, RunStatus.CANCELLED.value):
        return Finish(RunStatus(data["status"]), data["reason"], step=data.get("step"))
    kind = commands.stop_requested or control.requested_stop(run_dir)
    return start_up_stop_finish(kind, "starting the processes")


def run_rank(run_id: int, rank: int, *, lean: bool = False) -> int:
    """A rank process of a distributed run: train; rank 0 reports and writes the outcome (`lean`:
    as for `run_worker`)."""
    store = Store.open(upgrade=False, busy_timeout_ms=WORKER_BUSY_TIMEOUT_MS)
    log_watch = None
    try:
        run = runs.get(store, run_id)
        run_dir = Path(run.run_dir)
        log_watch = worker_log.keep_attached(run_dir / process.LOG_NAME, HEARTBEAT_S)
        commands = Commands()
        _install_stop_handler(run_dir, commands)
        config = frozen_config(run_dir)
        if lean:
            keep_out_unneeded(config)
        from spark_trainer.training.engine import OutOfMemory

        code = None
        try:
            outcome = train(store, run_id, config, run_dir, commands, report=rank == 0)
            finish = _outcome_finish(outcome, commands)
        except OperationFailedOOM as exc:
            finish = Finish(RunStatus.FAILED, "out of memory", error=str(exc))
        except OutOfMemory as exc:  # tell the launcher; it stops every rank and decides the retry for all
            say(f"rank {rank}: {exc}")
            (run_dir / f"{OOM_PREFIX}{rank}.json").write_text(json.dumps(
                {"micro_batch": exc.micro_batch, "grad_accum": exc.grad_accum, "where": getattr(exc, "where", None),
                 "message": str(exc)}))
            return OOM_EXIT
        except DiskFull as exc:
            finish = _disk_full_finish(exc, run_dir)
        except Diverged as exc:  # every rank sees the same reduced loss: all stop at the same step
            say(str(exc))
            finish = Finish(RunStatus.FAILED, "training diverged", error=str(exc))
        except StopRequested as exc:
            finish, code = start_up_stop_finish(exc.kind, exc.phase), START_UP_STOP_EXIT
        except Exception as exc:  # noqa: BLE001 - see below
            if commands.stop_requested is None:
                raise
            # Another rank stopped during start-up, breaking the rendezvous or collective this one was in.
            say(f"rank {rank}: stopped by request ({type(exc).__name__} from a rank that stopped first)")
            return START_UP_STOP_EXIT
        if rank == 0:
            payload = {"status": finish.status.value, "reason": finish.reason, "error": finish.error,
                       "step": finish.step}
            tmp = run_dir / (OUTCOME_NAME + ".tmp")
            tmp.write_text(json.dumps(payload))
            tmp.replace(run_dir / OUTCOME_NAME)
        if code is not None:
            return code
        # A failed rank exits non-zero, so the launcher gives any rank still waiting in a collective
        # for it a grace period, then stops it, instead of waiting forever.
        return 1 if finish.status == RunStatus.FAILED else 0
    finally:
        if log_watch is not None:
            log_watch.set()
        store.close()


def run_worker(run_id: int, log: worker_log.LogHealth | None = None, *, lean: bool = False) -> int:
    """The worker's main: claim the run as running, train, record how it ended, drain the queue.

    `log` reports lines its log streams had to drop (a full disk); the heartbeat records it as an event.
    `lean`: this process is the run's own, so packages the run cannot need are kept out of it
    (`lean_imports`; never in a process that trains something else afterwards, as `bench` does).
    """
    commands = Commands()
    store = Store.open(upgrade=False, busy_timeout_ms=WORKER_BUSY_TIMEOUT_MS)
    try:
        run = runs.get(store, run_id)
        run_dir = Path(run.run_dir)
        _install_stop_handler(run_dir, commands)
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
            say(f"run {run_id} running on {('GPUs ' + ','.join(map(str, run.gpus))) if run.gpus else 'CPU'}")
            _record_checkpoints(store, run_id)  # a resume: what the last attempt saved but could not record
            space_reserve.hold(run_dir)
            beat_stop = threading.Event()
            beat = threading.Thread(target=_heartbeat, args=(store, run_id, beat_stop, log, run_dir), daemon=True,
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
            code = _record_finish(store, run_id, finish)
            _record_checkpoints(store, run_id)
            return code
        finally:
            run_lock.release(lock)  # before draining the queue: a next worker may be this run's
    finally:
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
            return _launch_ranks(store, run.id, run_dir, world, run.gpus, commands)
        config = frozen_config(run_dir)
        return _outcome_finish(train(store, run.id, config, run_dir, commands), commands)
    except StopRequested as exc:
        finish = start_up_stop_finish(exc.kind, exc.phase)
        say(finish.reason)
        return finish
    except OperationFailedOOM as exc:
        say(str(exc))
        return Finish(RunStatus.FAILED, "out of memory", error=str(exc))
    except DiskFull as exc:
        return _disk_full_finish(exc, run_dir)
    except Diverged as exc:
        say(str(exc))
        return Finish(RunStatus.FAILED, "training diverged", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - any engine failure must end as a failed run, with its message
        traceback.print_exc()
        sys.stdout.flush()
        return Finish(RunStatus.FAILED, f"training failed: {type(exc).__name__}",
                      error=describe(exc))


def _disk_full_finish(exc: DiskFull, run_dir: Path) -> Finish:
    """A run that met a full or failing disk: failed, with one line saying where, how much is free,
    which checkpoint is still the latest complete one, and that it resumes once there is room."""
    from spark_trainer.training.checkpoints import latest_checkpoint

    message = str(exc)
    if "resume" not in message:  # a checkpoint's own message already says all this
        last = latest_checkpoint(run_dir)
        kept = f"the last complete checkpoint is {last.name}" if last is not None else "no checkpoint was written yet"
        message = f"{message.rstrip('.')}; {kept}. Free some space, then resume the run"
    say(message)
    return Finish(RunStatus.FAILED, "disk full or I/O error", error=message)


def _record_finish(store: Store, run_id: int, finish: Finish) -> int:
    fields: dict[str, Any] = {"eta_seconds": None, "heartbeat_at": utcnow()}
    if finish.error is not None:
        fields["error"] = finish.error
    if finish.step is not None:
        fields["step"] = finish.step
    try:
        runs.transition(store, run_id, finish.status, finish.reason,
                        expect={RunStatus.RUNNING, RunStatus.STARTING, RunStatus.STALLED}, **fields)
    except BadInput as exc:  # cancelled/killed meanwhile by a controller; it recorded the outcome
        say(f"outcome not recorded: {exc}")
    except SparkError as exc:  # the database cannot be written (its disk is full): say so and exit
        say(f"run {run_id} {finish.status.value}: {finish.reason}")
        say(f"the outcome could not be recorded in the database: {exc}. Once it can be written, any scheduler "
            f"or `spark-trainer run` command marks run {run_id} interrupted (this worker is gone) and "
            f"`spark-trainer run resume {run_id}` continues it from its last complete checkpoint")
        return 1
    say(f"run {run_id} {finish.status.value}: {finish.reason}")
    return 0 if finish.status == RunStatus.COMPLETED else 1


def _record_checkpoints(store: Store, run_id: int) -> None:
    """Catch the run's artifact list up with checkpoints written while the database could not be
    written (see jobs/checkpoint_records.py); if it still cannot be, a later end, resume or
    reconcile does it."""
    from spark_trainer.jobs.checkpoint_records import record_missing

    try:
        added = record_missing(store, runs.get(store, run_id))
    except SparkError as exc:
        say(f"checkpoints on disk not recorded yet: {exc}")
        return
    if added:
        say(f"recorded checkpoint{'s' if len(added) > 1 else ''} at step {', '.join(map(str, added))} "
            "(on disk, missing from the run's artifacts)")


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
