"""Cancel, pause, resume and delete runs (and experiments, their runs with them).

Cancel and pause write what is wanted to `runs/<id>/stop-request`, then SIGTERM the worker's
process group (on POSIX; on Windows the file alone, see jobs/portable.py): the worker, which polls
that file as well, saves a checkpoint and stops. After the grace period (setting
`stop_grace_seconds`) the group is killed and the run is marked here, so its GPUs are free (and
what is queued is started here, as the worker would have done); but not
while the worker is still writing that checkpoint (its staging folder growing, or done less than
`EXIT_TAIL_S` ago): a full fine-tune's checkpoint (weights and optimizer state, tens of GB) takes
longer than the default 30 s, and killing it mid-write lost every step since the previous one.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from spark_trainer.disk import restoring
from spark_trainer.errors import BadInput, DiskFull, IllegalTransition
from spark_trainer.jobs import deletion, process, run_lock, run_pace
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.resume_checks import check_inputs
from spark_trainer.store import experiments, exports, in_use, projects, runs, settings
from spark_trainer.store.entities import Experiment, Run, RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import bytes_being_saved
from spark_trainer.training.reporting import StopKind

STOP_REQUEST = "stop-request"
# Once its checkpoint is published, a stopping worker records how it ended and exits: this long.
EXIT_TAIL_S = 15.0
# A stop waits, beyond the grace period, this many times the run's longest recent step (run_pace): the
# worker saves once the step in flight is done.
STEP_WAIT_FACTOR = 1.5
_STOPPED = {StopKind.CANCEL: RunStatus.CANCELLED, StopKind.PAUSE: RunStatus.PAUSED}


def requested_stop(run_dir: Path) -> StopKind:
    """What the user asked a stopping worker to do; a bare SIGTERM (e.g. system shutdown) pauses,
    so the run can be resumed."""
    try:
        return StopKind(Path(run_dir, STOP_REQUEST).read_text().strip())
    except (FileNotFoundError, ValueError):
        return StopKind.PAUSE


def _write_request(run_dir: Path, kind: StopKind) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / (STOP_REQUEST + ".tmp")
    tmp.write_text(kind.value)
    tmp.replace(run_dir / STOP_REQUEST)


def clear_request(run_dir: Path) -> None:
    Path(run_dir, STOP_REQUEST).unlink(missing_ok=True)


class SaveWatch:
    """Whether a stopping worker is still saving: a checkpoint staging folder in `run_dir` that has
    grown since the stop began and within the last `quiet_s` seconds (fsync of a large file can add
    nothing for a while), or one that was published less than EXIT_TAIL_S ago. A staging folder that
    never grows (left by a worker killed mid-save long ago, or a save that is stuck) earns no wait.
    Made when the stop begins; called once a second past the grace period."""

    def __init__(self, run_dir: Path, quiet_s: float) -> None:
        self.run_dir, self.quiet_s = run_dir, quiet_s
        self.last = bytes_being_saved(run_dir)  # None: no staging folder; -1: it was published
        self.changed_at = time.monotonic()
        self.grew = self.waited = False

    def __call__(self) -> bool:
        now, written = time.monotonic(), bytes_being_saved(self.run_dir)
        if written is None:
            if self.last is None:
                return False  # no save under way: the grace period was all it gets
            if self.last != -1:
                self.last, self.changed_at = -1, now
            busy = now - self.changed_at < EXIT_TAIL_S
        else:
            if written != self.last:
                self.last, self.changed_at, self.grew = written, now, True
            busy = self.grew and now - self.changed_at < self.quiet_s
        self.waited = self.waited or busy
        return busy


def stop(store: Store, run_id: int | str, kind: StopKind, *, grace_s: float | None = None) -> Run:
    """Cancel or pause a run and wait until its worker has stopped (at most the grace period, longer
    while it is still writing its checkpoint: see SaveWatch).

    Raises BadInput for an unknown id or a run in a state that cannot be stopped that way.
    """
    return stop_saying(store, run_id, kind, grace_s=grace_s)[0]


def resume_point(run_dir: Path, step: int) -> tuple[str, bool]:
    """Where a resume of a run whose worker ended without recording how (killed after the grace
    period, or dead while it saved) starts, as its event words it; and whether steps are lost (the
    last complete checkpoint is before `step`, the last step the worker reported)."""
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint

    last = latest_checkpoint(run_dir)
    saved = checkpoint_step(last) if last is not None else 0
    if saved >= step:
        return (f"its checkpoint at step {saved} is complete: a resume continues from there" if last is not None
                else "no checkpoint: a resume starts from step 0"), False
    if last is None:
        return f"no checkpoint was saved at step {step}, and none is complete: a resume starts from step 0", True
    return f"no checkpoint was saved at step {step}: a resume starts from step {saved}, the last complete one", True


def stop_saying(store: Store, run_id: int | str, kind: StopKind, *,
                grace_s: float | None = None) -> tuple[Run, str | None]:
    """`stop`, and what the command says beside the run's new status: None when the worker recorded
    how it ended (its checkpoint saved), else where a resume starts when steps since the last complete
    checkpoint are lost (the worker died while it saved, or was killed), also kept as the run's error."""
    reconcile(store)
    run = runs.get(store, run_id)
    target = _STOPPED[kind]
    verb = kind.value
    while run.status in (RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.INTERRUPTED):
        if run.status == RunStatus.QUEUED and kind == StopKind.PAUSE:
            raise BadInput(f"run {run.id} is queued and has not started; cancel it instead of pausing")
        if kind == StopKind.PAUSE:
            break
        try:  # no worker: only the status changes, if nobody moved the run on since it was read
            return runs.transition(store, run.id, RunStatus.CANCELLED, f"cancelled while {run.status.value}",
                                   expect={run.status}), None
        except BadInput:
            run = runs.get(store, run.id)  # a scheduler started it (or a resume queued it) meanwhile
    if not run.status.is_active:
        raise BadInput(f"run {run.id} is {run.status.value}; only a queued, starting or running run can be cancelled"
                       if kind == StopKind.CANCEL else
                       f"run {run.id} is {run.status.value}; only a starting or running run can be paused")
    grace = float(settings.get(store, "stop_grace_seconds")) if grace_s is None else grace_s
    quiet = float(settings.get(store, "heartbeat_timeout_seconds"))
    # The worker stops after the step in flight: with steps longer than the grace period (a large model,
    # many micro-batches) it was killed before it could save, losing every step since its last checkpoint.
    step_s = run_pace.longest_recent_step(store, run) if run.pid else None
    wait = grace + (STEP_WAIT_FACTOR * step_s if step_s else 0.0)
    waited = f"{wait:.0f} s wait ({grace:g} s grace, {STEP_WAIT_FACTOR:g} x its longest recent step of {step_s:.0f} s)" \
        if wait - grace >= 1 else f"{grace:g} s grace period"
    while True:
        # Written (again) for each worker stopped: one that recorded itself since the first write may
        # have begun watching the file after it, and takes a file older than itself for one left from
        # before (jobs/portable.watch).
        _write_request(Path(run.run_dir), kind)
        began, saving = time.monotonic(), SaveWatch(Path(run.run_dir), quiet)
        how = process.stop_group(run.pid, run.pid_start_time, wait, saving) if run.pid else "exited"
        reason = (f"{verb} requested; worker killed after the {waited}"
                  f"{' and its checkpoint save' if saving.waited else ''}" if how == "killed"
                  else f"{verb} requested; worker stopped" + (
                      f" (its checkpoint took {time.monotonic() - began:.0f} s to save, past the {waited})"
                      if saving.waited else ""))
        # Only the worker just stopped: while it saved its checkpoint, another process may have
        # resumed the run and started a new worker, which must not be marked stopped under it.
        # Recorded here, the worker did not record how it ended: say where a resume really starts (a
        # worker killed -9 while it saved its pause checkpoint left only a staging folder).
        where, lost = resume_point(Path(run.run_dir), runs.get(store, run.id).step) if run.pid else (None, False)
        try:
            stopped = runs.transition(store, run.id, target, f"{reason}; {where}" if where else reason,
                                      expect={*runs.ACTIVE, RunStatus.INTERRUPTED}, expect_pid=run.pid,
                                      eta_seconds=None, **({"error": where} if lost else {}))
        except (BadInput, IllegalTransition):
            current = runs.get(store, run.id)  # the worker recorded how it ended, or another took over
        else:
            _after_dead_worker(store, stopped)
            _start_queued(store)
            return stopped, where if lost else None
        if run.pid is not None or not current.status.is_active or current.pid is None:
            return current, None
        run = current  # cancelled while starting: the worker recorded itself meanwhile; stop it


def _after_dead_worker(store: Store, run: Run) -> None:
    """What reconcile does for a worker that ended without recording it: give its held-back space up
    and record the checkpoints it published but did not record."""
    from spark_trainer.errors import SparkError
    from spark_trainer.jobs import checkpoint_records, space_reserve

    space_reserve.release(Path(run.run_dir))
    try:
        checkpoint_records.record_missing(store, run, why=checkpoint_records.WORKER_STOPPED)
    except SparkError:
        pass  # the database cannot be written after all; the run's resume records them


def _start_queued(store: Store) -> None:
    """Start what is queued, as the worker stopped here would have: it ended without recording how
    (killed after the grace period, or dead while it saved), so it started nothing, and its keeper
    finds the run paused or cancelled, not interrupted, and leaves the queue alone too. With no
    scheduler alive (the app closed, no `queue serve`) the next run waited for the morning."""
    from spark_trainer.errors import SparkError
    from spark_trainer.jobs.scheduler import schedule_once

    try:
        schedule_once(store)
    except SparkError:
        pass  # the database cannot be written now (a full disk, a lock): the next scheduler starts them


def cancel(store: Store, run_id: int | str, *, grace_s: float | None = None) -> Run:
    return stop(store, run_id, StopKind.CANCEL, grace_s=grace_s)


def pause(store: Store, run_id: int | str, *, grace_s: float | None = None) -> Run:
    return stop(store, run_id, StopKind.PAUSE, grace_s=grace_s)


def acted(store: Store, run_id: int | str, action: str) -> tuple[Run, str | None]:
    """The app's Pause, Cancel or Resume: the run, and for a stop what `stop_saying` says."""
    if action == "resume":
        return resume(store, run_id), None
    return stop_saying(store, run_id, StopKind(action))


def resume(store: Store, run_id: int | str, *, gpus: str | None = None) -> Run:
    """Queue a paused, interrupted, failed or cancelled run again; its worker continues from the
    last complete checkpoint with the same step count and metric series. `gpus` moves it to other
    devices or another process count (spark_trainer.jobs.relocate)."""
    reconcile(store, strict=True)  # a dead worker that cannot be recorded: say "disk full", not "running"
    if gpus is None:  # no file of the run is rewritten: the database's status rules keep two resumes apart
        return _resume(store, run_id, gpus)
    # Two resumes elsewhere at once: the second waits, then finds the run queued. Without the lock both
    # rewrote config.yaml, and the one the database refused put back the config it had read.
    with run_lock.changing(Path(runs.get(store, run_id).run_dir), f"resume run {run_id} elsewhere"):
        return _resume(store, run_id, gpus)


RESUMABLE = frozenset({RunStatus.PAUSED, RunStatus.INTERRUPTED, RunStatus.FAILED, RunStatus.CANCELLED})


def _resume(store: Store, run_id: int | str, gpus: str | None) -> Run:
    from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint

    run = runs.get(store, run_id)
    if run.status not in RESUMABLE:
        raise BadInput(f"run {run.id} is {run.status.value}; only a paused, interrupted, failed or cancelled "
                       "run can be resumed")
    check_inputs(store, run)
    checkpoint = latest_checkpoint(Path(run.run_dir))
    where = f"from checkpoint step {checkpoint_step(checkpoint)}" if checkpoint else "from the start (no checkpoint)"
    moved: dict[str, str] = {}
    # The run stays where it was when the database refuses the resume: so does its frozen config.
    with restoring([Path(run.run_dir) / "config.yaml"] if gpus is not None else []):
        if gpus is not None:
            from spark_trainer.jobs.relocate import move_run

            moved["requested_gpus"] = move_run(run, gpus)
            where += f" on {moved['requested_gpus']}"
        clear_request(Path(run.run_dir))
        return runs.transition(store, run.id, RunStatus.QUEUED, f"resume requested {where}", expect=set(RESUMABLE),
                               error=None, **moved)


def delete(store: Store, run_id: int | str, *, keep_files: bool = False) -> Run:
    """Delete a stopped run's records and (unless `keep_files`) its folder and the export folders the
    app made for it (spark_trainer.jobs.deletion: a folder the user chose stays); a playground model of
    the run that is loaded is unloaded (its process told why)."""
    reconcile(store)
    pinned = runs.get(store, run_id)
    # The records' refusals first (an evaluation names itself and how to cancel it: its worker's pin would
    # only give a process id), then an export reading its checkpoint: nothing goes.
    in_use.check(store, "run", pinned.id)
    deletion.refuse_if_pinned(pinned)
    if store.full is not None and not keep_files:
        found = runs.get(store, run_id)
        in_use.check(store, "run", found.id)  # as the delete itself would, before anything goes
        run, export_dirs = _free_first(store, f"run {found.id}'s folder was", [found.run_dir] if found.run_dir else [],
                                       exports.folders_for(store, [found.id]),
                                       lambda: runs.delete_with_exports(store, found.id))
    else:
        run, export_dirs = runs.delete_with_exports(store, run_id)
    release_deleted_runs(store)
    if not keep_files:
        if run.run_dir:
            shutil.rmtree(run.run_dir, ignore_errors=True)
        deletion.remove_exports(store.home, export_dirs)
    return run


_T = TypeVar("_T")


def _free_first(store: Store, what: str, folders: Sequence[str], export_dirs: Sequence[str],
                delete: Callable[[], _T]) -> _T:
    """On a disk too full to open the database for writing (Store.full), a delete's record cannot be
    written: the folders that were to go anyway (checked deletable first) go first and make the room,
    then `delete` writes it. A write that still finds no room leaves the record, saying so (`what` names
    the folders: "run 5's folder was"), and the same delete finishes once there is room."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    deletion.remove_exports(store.home, export_dirs)
    try:
        return delete()
    except DiskFull as exc:
        raise DiskFull(f"{what} removed to make room, but the record could not be deleted: {exc}; make more "
                       "room, then run the same delete again", exc.kind) from exc


def delete_experiment(store: Store, ref: str | int, *, keep_files: bool = False) -> tuple[Experiment, list[str]]:
    """Delete an experiment with its runs' records and (unless `keep_files`) their folders and exports'
    folders, as `delete` does one run; returns it and those of its runs' folders that were on disk
    (removed, or kept). On a full disk (Store.full) the folders go first, as `delete`'s do."""
    reconcile(store)  # a run whose worker died must not block the delete
    in_use.check(store, "experiment", experiments.get(store, ref).id)  # the records' refusals first, as delete's
    for run in runs.list_all(store, experiment=experiments.get(store, ref).id):
        deletion.refuse_if_pinned(run)  # one of its runs being exported: nothing goes
    removed: list[str] = []
    if store.full is not None and not keep_files:
        found = experiments.get(store, ref)
        in_use.check(store, "experiment", found.id)
        its_runs = runs.list_all(store, experiment=found.id)
        removed = [run.run_dir for run in its_runs if run.run_dir and Path(run.run_dir).is_dir()]
        experiment, run_dirs, export_dirs = _free_first(
            store, f"experiment {found.name!r}'s run folders were", removed,
            exports.folders_for(store, [run.id for run in its_runs]), lambda: experiments.delete(store, found.id))
    else:
        experiment, run_dirs, export_dirs = experiments.delete(store, ref)
    release_deleted_runs(store)  # a playground model of one of its runs
    on_disk = removed + [folder for folder in run_dirs if folder not in removed and Path(folder).is_dir()]
    if not keep_files:
        for folder in on_disk:
            shutil.rmtree(folder, ignore_errors=True)
        deletion.remove_exports(store.home, export_dirs)
    return experiment, on_disk


def delete_project(store: Store, project_id: int, folders: Sequence[Path], *, delete_files: bool) -> list[Path]:
    """Delete a project's records and, with `delete_files`, `folders` (deletion.project_folders: inside
    the home only), for the command line and the app alike; returns the folders removed. On a full disk
    (Store.full) the folders go first, as `delete`'s do."""
    in_use.check(store, "project", project_id)  # the records' refusals first, as delete's
    for run in runs.list_all(store, project=project_id):
        deletion.refuse_if_pinned(run)  # one of its runs being exported: nothing goes
    removed: list[Path] = []
    if store.full is not None and delete_files:
        found = projects.get(store, project_id)
        in_use.check(store, "project", found.id)
        removed = [folder for folder in folders if folder.is_dir()]
        _free_first(store, f"project {found.name!r}'s folders were", [str(f) for f in removed], [],
                    lambda: projects.delete(store, found.id))
    else:
        projects.delete(store, project_id)
    release_deleted_runs(store)  # a playground model of one of its runs
    if delete_files:
        for folder in folders:
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=False)
                removed.append(folder)
    return removed


def release_deleted_runs(store: Store) -> int:
    """Unload the playground models of runs that no longer exist (deleted, alone or with their
    experiment or project): their weights would otherwise stay in memory until the idle timeout.
    Returns how many servers were asked."""
    from spark_trainer.errors import NotFound
    from spark_trainer.playground import servers

    asked = 0
    for info in servers.live(store.home.root):
        if info.run is None:
            continue
        try:
            runs.get(store, info.run)
        except NotFound:
            asked += len(servers.release_deleted_run(store.home.root, info.run))
    return asked
