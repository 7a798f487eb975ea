"""How a worker's run ended (`Finish`), and recording it: the run's status, the reason its event
shows, the error; and the checkpoints on disk the store has not recorded yet.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput, DiskFull, InternalError, SparkError, describe
from spark_trainer.jobs.disk_hold import DISK_FULL_REASON
from spark_trainer.jobs.worker_process import say
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus, utcnow
from spark_trainer.store.store import Store
from spark_trainer.training.reporting import Commands, StopKind, TrainOutcome


@dataclass
class Finish:
    status: RunStatus
    reason: str
    error: str | None = None
    step: int | None = None


def steps_text(n: int) -> str:
    """'1 step', '20 steps' (a run of max_steps 1 'completed 1 steps')."""
    return f"{n} step" if n == 1 else f"{n} steps"


def outcome_finish(outcome: TrainOutcome, commands: Commands) -> Finish:
    if outcome.status == "completed":
        # Stopped early, it said only "completed 20 steps" beside its 20/300 (a user walk): why is in the event.
        early = f" of {outcome.total_steps} (early stopping: {outcome.early_stop})" if outcome.early_stop else ""
        return Finish(RunStatus.COMPLETED, f"completed {steps_text(outcome.step)}{early}", step=outcome.step)
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


# An event's reason is one line; a longer first line of the error is cut here (the error keeps it all).
REASON_CHARS = 300


def engine_failure(exc: BaseException) -> Finish:
    """A run whose engine raised: failed, its event saying what went wrong ("training failed:
    base_model: /x does not exist"), not the exception's class alone ("training failed: BadInput").
    The log gets our own one-line errors (bad input, an operation that failed) as that line, and
    anything else (a bug, a library's failure) with its traceback."""
    error = describe(exc)
    if isinstance(exc, SparkError) and not isinstance(exc, InternalError):
        say(error)
    else:
        sys.stdout.flush()  # the lines before it first, as both streams go to worker.log
        traceback.print_exception(exc)
        sys.stderr.flush()
    first = next((line.strip() for line in error.splitlines() if line.strip()), type(exc).__name__)
    if len(first) > REASON_CHARS:
        first = first[:REASON_CHARS - 1] + "…"
    return Finish(RunStatus.FAILED, f"training failed: {first}", error=error)


def disk_full_finish(exc: DiskFull, run_dir: Path) -> Finish:
    """A run that met a full or failing disk: failed, with one line saying where, how much is free,
    which checkpoint is still the latest complete one, and that it resumes once there is room."""
    from spark_trainer.training.checkpoints import kept_line, latest_checkpoint
    from spark_trainer.training.diskspace import resume_advice

    message = str(exc)
    if "resume" not in message:  # a checkpoint's own line already says all this
        message = message.rstrip(".")
        # ...or some of it: "no checkpoint was written" was said twice, and "free some space" to a
        # file-size limit (`ulimit -f`) that no space freed lifts.
        if "complete checkpoint" not in message and "no checkpoint was written" not in message:
            message += f"; {kept_line(latest_checkpoint(run_dir))}"
        message = f"{message}. {resume_advice(exc.kind)}"
    say(message)
    return Finish(RunStatus.FAILED, DISK_FULL_REASON, error=message)


def record_finish(store: Store, run_id: int, finish: Finish) -> int:
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


def record_checkpoints(store: Store, run_id: int, *, resumed: bool = False) -> None:
    """Catch the run's artifact list up with checkpoints written but not recorded (see
    jobs/checkpoint_records.py); if it still cannot be, a later end, resume or reconcile does it.
    At its end the worker finds its own, which a failed database write kept out; `resumed`, at its
    start, those of the worker before it, which stopped (killed, or gone) before recording them."""
    from spark_trainer.jobs.checkpoint_records import DATABASE_FAILED, WORKER_STOPPED, record_missing

    try:
        added = record_missing(store, runs.get(store, run_id), why=WORKER_STOPPED if resumed else DATABASE_FAILED)
    except SparkError as exc:
        say(f"checkpoints on disk not recorded yet: {exc}")
        return
    if added:
        say(f"recorded checkpoint{'s' if len(added) > 1 else ''} at step {', '.join(map(str, added))} "
            "(on disk, missing from the run's artifacts)")

