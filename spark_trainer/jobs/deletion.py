"""What deleting runs, or an experiment with its runs, removes, read before it is done so that the
command line's question and the app's dialog say it: the runs, their folders (checkpoints, logs,
samples) with their size on disk, and their exports.

Exports lose their records with their run (the rows cascade). Their folders go with the run's folder
(and stay with it when the run's folders are kept) when the app made them, in the data home's
`exports/` folder: the default place, `exports/<id>/`. A folder the user chose (`export --out DIR`,
the Export dialog's folder) anywhere else is the user's, as a dataset's source files are: it is
never removed, only named as kept. Deleting the run left the app's own export folders behind,
recorded nowhere and listed by no view.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from spark_trainer.disk import folder_bytes, gb
from spark_trainer.errors import Conflict
from spark_trainer.paths import DataHome
from spark_trainer.store import experiments, exports, in_use, projects, runs
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store


def made_by_the_app(home: DataHome, folder: str | Path) -> bool:
    """Whether an export folder is one the app made in the home's `exports/` folder (not a user's choice)."""
    exports_dir = home.exports_dir.resolve()
    path = Path(folder).resolve()
    return path != exports_dir and path.is_relative_to(exports_dir)


def remove_exports(home: DataHome, folders: Sequence[str]) -> None:
    """Remove the export folders the app made (see `made_by_the_app`); the others stay."""
    for folder in folders:
        if made_by_the_app(home, folder):
            shutil.rmtree(folder, ignore_errors=True)


def project_folders(contents: projects.ProjectContents, home: DataHome) -> list[Path]:
    """A project's folders that deleting it may remove (a disk check: call it off a GUI thread): only
    folders inside the data home, never a user's source files nor an export folder the user chose."""
    made = [d for d in contents.export_dirs if made_by_the_app(home, d)]
    return [Path(d) for d in contents.dataset_dirs + contents.run_dirs + made
            if Path(d).is_relative_to(home.root) and Path(d).exists()]


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class DeletePlan:
    """What a delete removes. Folders are those on disk when it was read."""

    kind: Literal["run", "experiment"]
    name: str  # the experiment's name, or the runs' ids ("5", "5, 6")
    run_ids: list[int]
    run_dirs: list[str]
    export_dirs: list[str]  # export folders the app made: they go with the runs' folders
    user_exports: list[str]  # export folders the user chose: never removed
    size_bytes: int  # of run_dirs and export_dirs

    def question(self, *, keep_files: bool = False) -> str:
        """One sentence ending in '?': "Delete experiment 'x' with 3 runs and their folders (1.20 GiB)?"."""
        n = len(self.run_ids)
        if self.kind == "experiment":
            head = f"Delete experiment {self.name!r} " + (f"with {_count(n, 'run')}" if n else "(it has no runs)")
        else:
            head = f"Delete run {self.name}" if n == 1 else f"Delete runs {self.name}"
        goes = [] if keep_files else [what for what, there in (
            ("its folder" if n == 1 else "their folders", self.run_dirs),
            (_count(len(self.export_dirs), "export folder"), self.export_dirs)) if there]
        said = head + (f" and {goes[0]}" if len(goes) == 1 else f", {goes[0]} and {goes[1]}" if goes else "")
        notes = [gb(self.size_bytes)] if goes else []
        if keep_files and (self.run_dirs or self.export_dirs):
            notes.append("folders stay on disk")
        if self.user_exports:
            notes.append(f"{_count(len(self.user_exports), 'export folder')} you chose "
                         f"{'stays' if len(self.user_exports) == 1 else 'stay'}")
        return said + (f" ({'; '.join(notes)})" if notes else "") + "?"


def _plan(store: Store, kind: Literal["run", "experiment"], name: str, found: Sequence[Run]) -> DeletePlan:
    ids = [run.id for run in found]
    export_dirs = [d for d in exports.folders_for(store, ids) if Path(d).is_dir()]
    run_dirs = [run.run_dir for run in found if run.run_dir and Path(run.run_dir).is_dir()]
    mine = [d for d in export_dirs if made_by_the_app(store.home, d)]
    return DeletePlan(kind, name, ids, run_dirs, mine, [d for d in export_dirs if d not in mine],
                      sum(folder_bytes(Path(d)) for d in run_dirs + mine))


# What a pin's process is doing, and what the refusal asks to finish.
_PINNED_AS = {"export": ("is being exported", "the export"), "evaluation": ("is being evaluated", "the evaluation")}


class CheckpointInUse(Conflict):
    """A run's checkpoint is being read by an export or evaluation (no Pause or Cancel of the run helps)."""


def refuse_if_pinned(run: Run) -> None:
    """Raise CheckpointInUse when a process reads one of the run's checkpoints through a pin (an export, an
    evaluation: export/checkpoint.pin_holders), naming it: its folder, deleted under it, failed the export
    with a missing file. A pin whose process is dead blocks nothing (the sweep removes it)."""
    from spark_trainer.export.checkpoint import pin_holders

    holders = pin_holders(Path(run.run_dir)) if run.run_dir else []
    if not holders:
        return
    first = holders[0]
    doing, what = _PINNED_AS.get(first.by, ("has a checkpoint being read", "that process"))
    who = (f"process {first.pid}" if first.pid is not None else "a process") + (
        f" on {first.host}" if first.host else "")
    raise CheckpointInUse(f"run {run.id} {doing} ({who}); let {what} finish or stop it before deleting")


def plan_runs(store: Store, run_refs: Sequence[int | str]) -> DeletePlan:
    """What deleting these runs removes. Raises Conflict for one in progress (or being evaluated), and
    NotFound for an unknown id: the delete would refuse the same, so nothing is asked first.
    Reads the disk (folder sizes): call it off a GUI thread."""
    from spark_trainer.jobs.reconcile import reconcile

    reconcile(store)  # a run whose worker died is no longer in progress
    chosen = [runs.get(store, ref) for ref in run_refs]
    for run in chosen:
        in_use.check(store, "run", run.id)
        refuse_if_pinned(run)
    return _plan(store, "run", ", ".join(str(r.id) for r in chosen), chosen)


def plan_experiment(store: Store, ref: int | str) -> DeletePlan:
    """What deleting an experiment removes: all its runs (queued ones too), as `plan_runs` says."""
    from spark_trainer.jobs.reconcile import reconcile

    reconcile(store)
    experiment = experiments.get(store, ref)
    in_use.check(store, "experiment", experiment.id)
    found = sorted(runs.list_all(store, experiment=experiment.id), key=lambda run: run.id)
    for run in found:
        refuse_if_pinned(run)
    return _plan(store, "experiment", experiment.name, found)


@dataclass(frozen=True)
class Outcome:
    """What a delete done after `plan` removed and left: the folders the plan found, looked at again."""

    removed_folders: list[str]
    kept_folders: list[str]
    removed_exports: list[str]
    kept_exports: list[str]  # the app's export folders still there (kept with the runs' folders)
    user_exports: list[str]  # export folders outside the home's exports/: never removed

    @classmethod
    def after(cls, plan: DeletePlan) -> Outcome:
        def split(folders: list[str]) -> tuple[list[str], list[str]]:
            kept = [d for d in folders if Path(d).exists()]
            return [d for d in folders if d not in kept], kept

        return cls(*split(plan.run_dirs), *split(plan.export_dirs), list(plan.user_exports))
