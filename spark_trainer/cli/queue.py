"""`queue serve`: the headless scheduler loop, and the hidden `worker RUN_ID` role (`queue show`, `hold`
and `release` are in `cli/queue_hold.py`)."""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import TYPE_CHECKING

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import positive_float
from spark_trainer.errors import StoreDiskFull
from spark_trainer.store.store import Store

if TYPE_CHECKING:
    from spark_trainer.desktop import KeepAwake
    from spark_trainer.jobs.serve_watch import RunWatch


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from spark_trainer.cli import queue_hold

    parser = sub.add_parser("queue", help="show, hold or release the queue, or run the scheduler that starts "
                            "queued runs", parents=[common])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    queue_hold.register(actions, common)
    serve = actions.add_parser("serve", help="start queued runs whenever their GPUs are free (Ctrl-C, SIGTERM or "
                               "SIGHUP stops)",
                               parents=[common])
    serve.add_argument("--interval", type=positive_float, default=2.0, metavar="S", help="seconds between checks")
    serve.add_argument("--until-idle", action="store_true",
                       help="exit once nothing is starting or running, and nothing queued (or the queue is held)")
    serve.set_defaults(handler=cmd_serve)

    # The worker role: started by the scheduler, not by people, so it is not listed.
    worker = sub.add_parser("worker", help=argparse.SUPPRESS, parents=[common])
    worker.add_argument("run_id", type=int, help="run id")
    worker.add_argument("--rank", type=int, help="rank of a distributed run's process")
    worker.add_argument("--evaluation", type=int, help="run this evaluation of the run instead of training")
    worker.set_defaults(handler=cmd_worker)
    # argparse (before 3.13) prints "==SUPPRESS==" for a hidden sub-command; list only visible ones.
    sub._get_subactions = lambda: [a for a in sub._choices_actions if a.help != argparse.SUPPRESS]


def _open_when_room(ctx: Context, interval_s: float) -> Store:
    """The store, once it can be opened: on a full disk even opening writes (SQLite's shared-memory
    file), and a scheduler started then should wait for room like one already running does."""
    from spark_trainer.jobs.scheduler import waiting_line

    said = False
    while True:
        try:
            return ctx.store
        except StoreDiskFull as exc:
            if not said:
                ctx.info(waiting_line(exc))
                said = True
            time.sleep(interval_s)


def cmd_serve(ctx: Context, args: argparse.Namespace) -> Result:
    """Serve until idle (--until-idle) or stopped: Ctrl-C, and SIGTERM and SIGHUP taken as Ctrl-C, so the
    summary is said and the computer let sleep again however it ends."""
    from spark_trainer.cli.hangup import like_ctrl_c
    from spark_trainer.desktop import KeepAwake
    from spark_trainer.jobs.scheduler import serve
    from spark_trainer.jobs.serve_watch import RunWatch

    ctx.info("scheduler running; Ctrl-C stops it (running workers keep going)")
    started: list[int] = []
    awake, said = KeepAwake(), set[str]()
    awake.inhibitor.log_refusal = False  # its one warning line is `_tick`'s
    watch: RunWatch | None = None
    end = "queue is idle"
    try:
        with like_ctrl_c():
            store = _open_when_room(ctx, args.interval)
            watch = RunWatch(store)
            serve(store, interval_s=args.interval, until_idle=args.until_idle, on_started=started.extend,
                  on_waiting=lambda line: ctx.info(f"[{datetime.now():%Y-%m-%d %H:%M:%S}] {line}"),
                  on_tick=lambda: _tick(ctx, watch, awake, said))
    except KeyboardInterrupt:
        end = "scheduler stopped; running workers keep training"
    else:
        end = _held_end(store) or end
    finally:
        awake.release()
    if watch is None:
        return Result({"started": started, "ended": {}}, end)
    return Result({"started": started, "ended": watch.ended_ids()}, f"{end}; while it served: {watch.summary()}")


def _held_end(store: Store) -> str | None:
    """How `--until-idle` ends while queued runs wait for the queue's release: not "idle"."""
    from spark_trainer.cli.queue_hold import queued_ids
    from spark_trainer.store import queue_hold
    from spark_trainer.store.entities import runs_named

    queued = queued_ids(store)
    if not queued or queue_hold.held_since(store) is None:
        return None
    return f"queue is held; {runs_named(queued, 'stay')} queued until " \
        "`spark-trainer queue release`"


def _tick(ctx: Context, watch: RunWatch, awake: KeepAwake, said: set[str]) -> None:
    """Say what started or stopped since the last pass, and keep the computer awake while a run is
    active (that it does, or cannot, said once)."""
    for line in watch.poll():
        ctx.info(f"[{datetime.now():%Y-%m-%d %H:%M:%S}] {line}")
    change = awake.update(watch.active)
    if change in ("held", "refused") and change not in said:
        said.add(change)
        ctx.info("keeping the computer awake while runs are active (it may sleep again once none are)"
                 if change == "held" else f"warning: {awake.inhibitor.status}: {awake.inhibitor.detail}")


def cmd_worker(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.worker import main as worker_main

    if args.evaluation is not None:
        from spark_trainer.evaluation.worker import main as evaluation_main

        code = evaluation_main(args.run_id, args.evaluation)
        return Result({"run": args.run_id, "evaluation": args.evaluation, "exit_code": code}, "", exit_code=code)
    code = worker_main(args.run_id, args.rank)
    return Result({"run": args.run_id, "exit_code": code}, "", exit_code=code)
