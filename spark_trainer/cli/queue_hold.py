"""`queue show`, `queue hold`, `queue release`: the queue as a whole (the app's Runs view shows and
switches the same hold, `store/queue_hold.py`)."""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, table
from spark_trainer.store.entities import local_time, runs_named
from spark_trainer.store.store import Store


def register(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    show = actions.add_parser("show", help="whether the queue is held, what runs, and the queued runs in the order "
                              "they start", parents=[common])
    show.set_defaults(handler=cmd_show)
    hold = actions.add_parser("hold", help="let no queued run start until `queue release` (running runs go on)",
                              parents=[common],
                              description="Hold the queue: runs you queue (train, sweep, run resume) stay queued, "
                                          "in priority order, until `queue release`. Running runs go on.")
    hold.set_defaults(handler=cmd_hold)
    release = actions.add_parser("release", help="release a held queue and start what fits now", parents=[common])
    release.set_defaults(handler=cmd_release)


def queued_ids(store: Store) -> list[int]:
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.run_priority import start_order

    return [run.id for run in start_order(runs.list_all(store, statuses={RunStatus.QUEUED}))]


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.cli.queue_starts import end_data, estimate_data, starts_text
    from spark_trainer.cli.runs import run_note
    from spark_trainer.jobs import queue_eta
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.jobs.scheduler import waiting_reasons
    from spark_trainer.store import queue_hold, runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.run_priority import start_order

    store = ctx.store
    reconcile(store)
    since = queue_hold.held_since(store)
    active = runs.list_all(store, statuses=runs.ACTIVE)
    queued = start_order(runs.list_all(store, statuses={RunStatus.QUEUED}))
    waiting = waiting_reasons(store) if queued else {}
    found = queue_eta.estimate(store)
    guess = {e.run_id: e for e in found.queued}
    data = {"held": since is not None, "held_since": since,
            "active": [run.id for run in active],
            "queued": [{"id": run.id, "priority": run.priority, "experiment": run.experiment,
                        "waiting": waiting.get(run.id), **estimate_data(guess.get(run.id), found)}
                       for run in queued],
            **end_data(found)}
    state = "not held" if since is None else f"held since {local_time(since):%Y-%m-%d %H:%M} (`queue release` lets queued runs start)"
    ends = queue_eta.end_text(found)
    lines = [fields([("queue", state),
                     ("active", ", ".join(_active_text(r) for r in active) or "none"),
                     ("queued", f"{len(queued)}, in the order they start" if queued else "none"),
                     *([("ends", ends)] if ends else [])])]
    if queued:
        rows = [(run.id, run.priority, run.experiment, run.devices, starts_text(guess.get(run.id), found),
                 run_note(run, waiting.get(run.id))) for run in queued]
        lines.append(table(["id", "priority", "experiment", "gpus", "starts", "note"], rows))
    return Result(data, "\n\n".join(lines))


def _active_text(run) -> str:
    """ "run 3 (running, step 40/100, eta 95 s)", as `run show` gives each."""
    from spark_trainer.cli.runs import progress_text

    eta = f", eta {run.eta_seconds:.0f} s" if run.eta_seconds is not None else ""
    return f"run {run.id} ({run.status.value}, step {progress_text(run)}{eta})"


def cmd_hold(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.store import queue_hold

    store = ctx.store
    changed = queue_hold.hold(store)
    since = queue_hold.held_since(store)
    queued = queued_ids(store)
    stay = f"; {runs_named(queued, 'stay')} queued" if queued else ""
    head = "queue held" if changed else f"the queue was held already (since {local_time(since):%Y-%m-%d %H:%M})"
    return Result({"held": True, "held_since": since, "changed": changed, "queued": queued},
                  f"{head}: no queued run starts until `spark-trainer queue release`{stay}; running runs go on")


def cmd_release(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.scheduler import schedule_once, waiting_reasons
    from spark_trainer.store import queue_hold

    store = ctx.store
    changed = queue_hold.release(store)
    started = schedule_once(store)  # this command is a scheduler too: nothing else may be running one
    waiting = waiting_reasons(store)
    head = "queue released" if changed else "the queue was not held"
    parts = [head]
    if started:
        parts.append(f"started {runs_named(started)}")
    parts += [f"run {run_id} waits: {waiting[run_id]}" for run_id in queued_ids(store) if run_id in waiting]
    if not started and not waiting:
        parts.append("nothing is queued")
    return Result({"held": False, "changed": changed, "started": started, "waiting": waiting}, "; ".join(parts))
