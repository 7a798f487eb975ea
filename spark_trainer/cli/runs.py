"""`run start|list|show|logs|cancel|pause|resume|extend|delete`. Every read reconciles first."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any

from spark_trainer.cli.confirm import ASKS, add_yes, declined, deleted_result
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, non_negative_float, non_negative_int, positive_int, table
from spark_trainer.cli.queue_starts import estimate_data, run_start, starts_text
from spark_trainer.cli.run_logs import cmd_logs
from spark_trainer.cli.run_metrics import register as register_metrics
from spark_trainer.cli.waiting import wait_for_run
from spark_trainer.errors import BadInput, SparkError, StoreDiskFull
from spark_trainer.jobs import control
from spark_trainer.jobs.finish import steps_text
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import schedule_once, short_reason, waiting_reason, waiting_reasons
from spark_trainer.jobs.submit import submit_experiment
from spark_trainer.store import projects, queue_hold, runs
from spark_trainer.store.entities import Experiment, Run, RunStatus, local_time, to_jsonable
from spark_trainer.store.store import Store
from spark_trainer.training.reporting import StopKind

WAIT_HELP = ("wait for the run to end, showing progress; exit 0 only if it completed (Ctrl-C stops the waiting, "
             "not the run)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("run", help="start, list, follow (logs -f) and control training runs", parents=[common])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    start = actions.add_parser("start", help="queue a run of an experiment and start it when its GPUs are free",
                               parents=[common])
    start.add_argument("experiment", help="experiment name or id")
    start.add_argument("--gpus", help="auto | cpu | cpu:N | GPU ids like 0 or 0,1 | count:N (default: the config's)")
    start.add_argument("--wait", action="store_true", help=WAIT_HELP)
    start.set_defaults(handler=cmd_start)

    lst = actions.add_parser("list", help="list runs", parents=[common])
    lst.add_argument("--project", help="only this project's runs")
    lst.add_argument("--experiment", help="only this experiment's runs")
    lst.add_argument("--status", help="only runs with this status (comma-separated; active: queued, starting, "
                     "running or stalled, as the Runs view's filter)")
    lst.add_argument("--sweep", metavar="NAME", help="only this sweep's runs, with their swept values "
                     "(`sweep show NAME` ranks them)")
    lst.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="show one run with its progress and events", parents=[common])
    show.add_argument("run", help="run id")
    show.set_defaults(handler=cmd_show)

    logs = actions.add_parser("logs", help="print a run's worker log", parents=[common])
    logs.add_argument("run", help="run id")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until the run stops")
    logs.add_argument("--tail", type=non_negative_int, metavar="N", help="only the last N lines")
    logs.set_defaults(handler=cmd_logs)

    register_metrics(actions, common)  # here: `run --help` lists it after logs, as before

    for name, what, func in (("cancel", "stop runs for good (each saves a checkpoint first)", cmd_cancel),
                             ("pause", "stop runs with a checkpoint so they can be resumed", cmd_pause)):
        p = actions.add_parser(name, help=what, parents=[common])
        p.add_argument("runs", nargs="+", metavar="RUN", help="run ids (several: each in turn, as the Runs list's "
                       "right-click does for the selected runs)")
        p.add_argument("--grace", type=non_negative_float, metavar="S",
                       help="seconds to wait before killing the worker (default: setting stop_grace_seconds)")
        p.set_defaults(handler=func)

    resume = actions.add_parser("resume", help="continue a paused, interrupted, failed or cancelled run "
                                "from its last checkpoint", parents=[common])
    resume.add_argument("runs", nargs="+", metavar="RUN", help="run ids (several: each in turn; --wait takes one)")
    resume.add_argument("--wait", action="store_true", help=WAIT_HELP)
    resume.add_argument("--gpus", metavar="SPEC", help="resume on other devices or another process count "
                        "(auto | cpu | cpu:N | 0,1 | count:N); the global batch is kept")
    resume.set_defaults(handler=cmd_resume)

    extend = actions.add_parser(
        "extend", help="continue a completed run for N more steps from its last checkpoint",
        description="Continue a completed run for N more optimizer steps from its last checkpoint (the same "
                    "run, step count and metric series; the learning rate re-warms from where it ended). The "
                    "run is queued and started when its GPUs are free, as the app's 'Extend by' button does.",
        parents=[common])
    extend.add_argument("run", help="run id")
    extend.add_argument("--steps", type=positive_int, required=True, metavar="N",
                        help="optimizer steps to add to the run's total")
    extend.add_argument("--wait", action="store_true", help=WAIT_HELP)
    extend.set_defaults(handler=cmd_extend)

    delete = actions.add_parser(
        "delete", help="delete a stopped run's records, folder and exports (asks first on a terminal)",
        description="Deletes the run's records, its folder (checkpoints, logs, samples) and the export folders "
        "the app made for it in the data home's exports/ folder; an export folder you chose elsewhere (--out) "
        "is kept. " + ASKS, parents=[common])
    delete.add_argument("runs", nargs="+", metavar="RUN", help="run ids (several: asked once, deleted in turn, "
                                                              "as the Runs list's selection)")
    delete.add_argument("--keep-files", action="store_true", help="keep the run folder and its exports on disk")
    add_yes(delete)
    delete.set_defaults(handler=cmd_delete)

    from spark_trainer.cli.cluster import register_import
    from spark_trainer.cli.run_priority import register as register_priority
    from spark_trainer.cli.run_records import register as register_records
    from spark_trainer.cli.run_samples import register as register_samples

    register_import(actions, common)
    register_priority(actions, common)
    register_records(actions, common)
    register_samples(actions, common)


def progress_text(run) -> str:
    total = run.total_steps or "?"
    return f"{run.step}/{total}"


def status_text(run, waiting: str | None = None, *, short: bool = False) -> str:
    """The run's status as `run show` and `--wait` print it (and `run list`, `short`: the last part of
    a start-up step, as the app's Runs list): why a queued run waits, what a running one does before
    its first step ("running: loading the model: caching VAE latents 340/2,600 images")."""
    detail = waiting or run.starting_text(short=short)
    return f"{run.status.value}: {detail}" if detail else run.status.value


NOTE_CHARS = 60


def run_note(run: Run, waiting: str | None) -> str:
    """`run list`'s NOTE: why a queued run waits, as the app's Status cell says it, or a stopped run's
    error's first line (the app's Status tooltip), cut to NOTE_CHARS with "…" (`run show` has it whole)."""
    note = short_reason(waiting) if waiting else run.error_line or ""
    return note if len(note) <= NOTE_CHARS else note[:NOTE_CHARS - 1] + "…"


def start_and_maybe_wait(ctx: Context, store: Store, run_id: int, wait: bool, intro: str) -> Result:
    """Start the run now if its GPUs are free; with `wait`, act as the scheduler until it ends (a
    database disk too full to start it then is waited out, said once, as `queue serve` does)."""
    try:
        schedule_once(store)
    except StoreDiskFull:
        if not wait:
            raise
    run = runs.get(store, run_id)
    if not wait:
        note = "started" if run.status.is_active else f"{run.status.value}: {waiting_reason(store, run)}"
        return Result(run, f"{intro}run {run.id} {note}")
    ctx.info(f"{intro}run {run.id} {run.status.value}")
    try:
        run = wait_for_run(store, run.id)
    except KeyboardInterrupt:  # Ctrl-C stops the waiting, never the run: say where it stands
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # off the progress bar's line
        run = runs.get(store, run_id)
        return Result(run, stopped_waiting_line(run, held=queue_hold.held_since(store) is not None), exit_code=130)
    if run.status == RunStatus.COMPLETED:  # its event's words: "completed 20 steps of 300 (early stopping: ...)"
        done = next((e.reason for e in reversed(runs.events(store, run.id)) if e.to_status == RunStatus.COMPLETED.value
                     and e.reason.startswith("completed ")), f"completed {steps_text(run.step)}")
        return Result(run, f"run {run.id} {done}")
    return Result(run, ended_line(run), exit_code=1)


def ended_line(run: Run) -> str:
    """How a run that did not complete ended, in one line: its status and its error's first line, and
    where the rest is when there is more ("...; last lines of worker.log:" ended
    the line with nothing after it)."""
    lines = [line for line in (run.error or "").splitlines() if line.strip()]
    detail = f": {lines[0]}" if lines else ""
    rest = f" ({len(lines) - 1} more line{'s' if len(lines) > 2 else ''}: `spark-trainer run show {run.id}`)" \
        if len(lines) > 1 else ""
    return f"run {run.id} ended {run.status.value}{detail}{rest}"


def stopped_waiting_line(run: Run, *, held: bool = False) -> str:
    """What Ctrl-C during `--wait` leaves behind: the run goes on (or stays queued) without this command.
    `held`: the queue is held (`store/queue_hold.py`), so a queued run starts only once it is released,
    whatever scheduler is running."""
    cancel = f"`spark-trainer run cancel {run.id}` stops it"
    if run.status == RunStatus.QUEUED and held:
        return (f"stopped waiting; run {run.id} stays queued: the queue is held; it starts once it is released "
                f"(`spark-trainer queue release`, or the app's Release queue); {cancel}")
    if run.status == RunStatus.QUEUED:
        return (f"stopped waiting; run {run.id} stays queued and starts when the app or `spark-trainer queue serve` "
                f"is running; {cancel}")
    if run.status.is_active:
        return (f"stopped waiting; run {run.id} goes on in the background ({run.status.value}, step "
                f"{run.step}/{run.total_steps or '?'}): `spark-trainer run logs {run.id} -f` follows it, {cancel}")
    return f"stopped waiting; run {run.id} ended {run.status.value}"


def cmd_start(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.store
    reconcile(store)
    submitted = submit_experiment(store, args.experiment, gpus=args.gpus)
    _note_sweeps(ctx, store, submitted.experiment)
    for warning in submitted.warnings:
        ctx.info(f"warning: {warning}")
    return start_and_maybe_wait(ctx, store, submitted.run.id, args.wait, "")


def _note_sweeps(ctx: Context, store: Store, experiment: Experiment) -> None:
    """A swept experiment's stored config holds one value of each swept setting (the first run's, when
    the sweep created the experiment): say which the new run trains with, as no sweep chose them."""
    from spark_trainer.config.sweep import values_text
    from spark_trainer.store import sweeps

    for sweep in sweeps.for_experiment(store, experiment.id):
        used = {}
        for key in sweep.values:
            section, _, name = key.partition(".")
            used[key] = (experiment.config.get(section) or {}).get(name)
        ctx.info(f"note: experiment {experiment.name!r} was swept by {sweep.name}; this run trains its stored "
                 f"config: {values_text(used)} (`spark-trainer train RUN_FILE --set KEY=VALUE` trains other values)")


def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.store
    reconcile(store)
    statuses = None
    if args.status:
        statuses = set()
        for word in (w.strip() for w in args.status.split(",")):
            if word == "active":  # the Runs view's "active" filter: what is training or waiting to
                statuses |= {s for s in RunStatus if s.is_active or s == RunStatus.QUEUED}
            elif word:
                try:
                    statuses.add(RunStatus(word))
                except ValueError:
                    allowed = ", ".join(["active", *(s.value for s in RunStatus)])
                    raise BadInput(f"--status {args.status!r}: statuses are {allowed}") from None
    if args.sweep is not None:
        from spark_trainer.store import sweeps

        sweeps.require(store, args.sweep)
    items = runs.list_all(store, project=args.project, experiment=args.experiment, statuses=statuses,
                          sweep=args.sweep)
    project_names = {p.id: p.name for p in projects.list_all(store)}  # same-named experiments told apart
    from spark_trainer.jobs.queue_eta import estimate

    queued = any(r.status == RunStatus.QUEUED for r in items)  # else no reason or estimate is read
    waiting = waiting_reasons(store) if queued else {}
    found = estimate(store) if queued else None
    guess = {e.run_id: e for e in found.queued} if found is not None else {}
    rows = [(r.id, project_names.get(r.project_id, "-"), r.experiment, status_text(r, short=True), progress_text(r),
             r.devices, r.ran_on_text, r.created_at,
             r.finished_at if r.status.is_finished else None) for r in items]  # paused/interrupted: not finished
    headers = ["id", "project", "experiment", "status", "step", "gpus", "ran on", "created", "finished"]
    if args.sweep is not None:
        headers.append("swept")
        from spark_trainer.config.sweep import values_text

        rows = [(*row, values_text(r.sweep_values)) for row, r in zip(rows, items, strict=True)]
    if found is not None:  # a queued run's estimated start ("-": unknown), as `queue show`'s STARTS; others none
        headers.append("starts")
        rows = [(*row, starts_text(guess.get(r.id), found) if r.status == RunStatus.QUEUED else "")
                for row, r in zip(rows, items, strict=True)]
    headers.append("note")  # last: the one cell of any length
    rows = [(*row, run_note(r, waiting.get(r.id))) for row, r in zip(rows, items, strict=True)]
    data = [{**to_jsonable(r), "project": project_names.get(r.project_id), "waiting": waiting.get(r.id),
             **({} if found is None else estimate_data(guess.get(r.id), found))} for r in items]
    filters = " ".join(f"--{name} {value}" for name, value in (
        ("project", args.project), ("experiment", args.experiment), ("status", args.status), ("sweep", args.sweep))
        if value is not None)
    return Result(data, table(headers, rows, empty=f"no runs match {filters}" if filters else "no runs yet"))


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.store
    reconcile(store)
    run = runs.get(store, args.run)
    events = runs.events(store, run.id)
    waiting = waiting_reason(store, run) if run.status == RunStatus.QUEUED else None
    starts, estimated = run_start(store, run)  # a queued run's, as `run list` and `queue show` say it
    data = {"run": run, "events": events, "waiting": waiting, **estimated}

    def text() -> str:
        eta = f"{run.eta_seconds:.0f} s" if run.eta_seconds is not None else "-"
        status = status_text(run, waiting)
        from spark_trainer.config.sweep import values_text

        sweep = [("sweep", f"{run.sweep}: {values_text(run.sweep_values)}")] if run.sweep else []
        head = fields([("id", run.id), ("experiment", run.experiment), *sweep, ("status", status),
                       ("priority", run.priority), ("step", progress_text(run)), ("eta", eta), *([("starts", starts)] if starts else []),
                       ("gpus requested", run.requested_gpus),
                       ("gpus", run.devices), ("ran on", run.ran_on_text), ("pid", run.pid), ("heartbeat", run.heartbeat_at),
                       ("folder", run.run_dir), ("error", run.error or "-")])
        lines = [f"  {local_time(e.created_at):%Y-%m-%d %H:%M:%S}  {e.from_status or '-'} -> {e.to_status}  {e.reason}"
                 for e in events]
        return head + "\n\nevents:\n" + "\n".join(lines)

    return Result(data, text)


def _each(ctx: Context, run_refs: list[str], act: Callable[[str], Run | tuple[Run, str | None]]) -> Result:
    """Apply `act` to each run in turn; one that refuses is said on its own line and the others still
    get theirs, as the Runs list's menu does for the selected runs. Exit 1 if any refused; when every one
    refused with the same code (all bad input: exit 2), that code, as for one run. An `act` that also
    returns a note has it on its run's line ("run 29 paused: no checkpoint was saved at step 9, ...")."""
    done: list[Run] = []
    said: dict[int, str] = {}
    errors: list[str] = []
    codes: set[int] = set()
    refs = list(dict.fromkeys(run_refs))  # `run cancel 1 1` is one run, answered as one
    for ref in refs:
        try:
            got = act(ref)
        except SparkError as exc:
            if len(refs) == 1:
                raise
            codes.add(exc.exit_code)
            named = re.search(rf"\brun {re.escape(ref)}\b", str(exc))  # most say "run N is ...": not twice
            errors.append(str(exc) if named else f"run {ref}: {exc}")
            continue
        run, note = got if isinstance(got, tuple) else (got, None)
        done.append(run)
        if note:
            said[run.id] = note
    for line in errors:
        ctx.info(line)
    data: Any = done[0] if len(refs) == 1 else {"runs": done, "errors": errors}
    code = 0 if not errors else codes.pop() if not done and len(codes) == 1 else 1
    return Result(data, "\n".join(f"run {r.id} {r.status.value}" + (f": {said[r.id]}" if r.id in said else "")
                                  for r in done), exit_code=code)


def cmd_cancel(ctx: Context, args: argparse.Namespace) -> Result:
    return _each(ctx, args.runs, lambda ref: control.stop_saying(ctx.store, ref, StopKind.CANCEL, grace_s=args.grace))


def cmd_pause(ctx: Context, args: argparse.Namespace) -> Result:
    return _each(ctx, args.runs, lambda ref: control.stop_saying(ctx.store, ref, StopKind.PAUSE, grace_s=args.grace))


def cmd_resume(ctx: Context, args: argparse.Namespace) -> Result:
    args.runs = list(dict.fromkeys(args.runs))  # `run resume 1 1` is one run
    if len(args.runs) == 1:
        run = control.resume(ctx.store, args.runs[0], gpus=args.gpus)
        return start_and_maybe_wait(ctx, ctx.store, run.id, args.wait, "resumed: ")
    if args.wait:
        raise BadInput("--wait waits for one run; resume them without it and follow each with `run logs RUN -f`")
    result = _each(ctx, args.runs, lambda ref: control.resume(ctx.store, ref, gpus=args.gpus))
    schedule_once(ctx.store)  # start those whose GPUs are free now; the rest stay queued
    started = [runs.get(ctx.store, r.id) for r in result.data["runs"]]
    result.data["runs"] = started
    result.text = "\n".join(f"resumed: run {r.id} {'started' if r.status.is_active else r.status.value}"
                             for r in started)
    return result


def cmd_extend(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.extend import extend

    run = extend(ctx.store, args.run, args.steps)  # what the run view's "Extend by" button calls
    return start_and_maybe_wait(ctx, ctx.store, run.id, args.wait, f"extended by {args.steps} steps to "
                                f"{run.total_steps}: ")


def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.deletion import Outcome, plan_runs

    refs = list(dict.fromkeys(args.runs))
    plan = plan_runs(ctx.store, refs)  # refuses a run in progress (or an unknown id) before asking
    cancelled = declined(args, plan.question(keep_files=args.keep_files))
    if cancelled is not None:
        return cancelled
    gone = [control.delete(ctx.store, ref, keep_files=args.keep_files) for ref in refs]
    what = f"run {gone[0].id}" if len(gone) == 1 else f"runs {plan.name}"
    return deleted_result(gone[0] if len(gone) == 1 else gone, what, Outcome.after(plan), keep_files=args.keep_files)
