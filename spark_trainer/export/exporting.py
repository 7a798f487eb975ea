"""Export a run: pick the checkpoint, write the Hugging Face folder (staged, then renamed), add the
model card and loss curve, record it in the store; optionally push it to the Hub.

Re-running the same export (same run, checkpoint step, merge and dtype, and --out if given) finds the
finished folder and does not write it again, so a failed push is retried by running the command again;
only while that folder holds what the export wrote, whole and unchanged (integrity.py): a damaged one is
written again in the app's own exports/<id>, and refused in a user's --out folder.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer import disk
from spark_trainer.errors import BadInput, DiskFull, NotFound, OperationFailed
from spark_trainer.export import hub, integrity, model_card, pending
from spark_trainer.export.checkpoint import pinned_checkpoint, unsaved_best
from spark_trainer.export.classifier import dataset_folder
from spark_trainer.export.options import ExportOptions
from spark_trainer.export.registry import ExportInfo, exporter_for
from spark_trainer.store import exports, runs
from spark_trainer.store.exports import Export
from spark_trainer.store.store import Store

Progress = Callable[[str, int, int], None]
CARD_NAME = integrity.CARD_NAME


@dataclass(frozen=True)
class ExportResult:
    export: Export
    reused: bool
    pushed: hub.Pushed | None = None
    note: str | None = None  # said beside it: a "best" whose best evaluation has no checkpoint


def _requested(run_id: int, step: int, options: ExportOptions, recipe: str) -> dict[str, Any]:
    return {"checkpoint": str(options.checkpoint), "step": step, "merge": options.merge,
            "dtype_requested": options.dtype, "recipe": recipe}


def _same_choices(store: Store, run_id: int, step: int, options: ExportOptions) -> list[Export]:
    """The run's recorded exports of this checkpoint with these choices (and this --out), newest first.
    A full fine-tune's export is the same whole model with or without --merge (there is no adapter to
    merge): a second copy of it, as large as the model, was written for the other flag."""
    out = None if options.out is None else Path(options.out).expanduser().resolve()
    return [found for found in exports.list_for(store, run_id)
            if found.step == step
            and (found.options.get("merge") == options.merge or found.options.get("kind") == "full")
            and found.options.get("dtype_requested") == options.dtype
            and (out is None or Path(found.path) == out)]


def find_reusable(store: Store, run_id: int, step: int, options: ExportOptions) -> Export | None:
    """A finished export of the same checkpoint with the same choices whose folder still holds what it
    wrote, whole and unchanged (integrity.damage)."""
    return next((found for found in _same_choices(store, run_id, step, options)
                 if integrity.damage(found.options, Path(found.path)) is None), None)


def _damaged(store: Store, run_id: int, step: int, options: ExportOptions) -> Export | None:
    """The export to write again in its own folder: the newest such export whose folder is there with
    files in it but damaged (a file missing or changed). With --out, it is refused instead (below)."""
    for found in _same_choices(store, run_id, step, options):
        folder = Path(found.path)
        if folder.is_dir() and any(folder.iterdir()):
            if options.out is not None:
                why = integrity.damage(found.options, folder)
                raise BadInput(f"export folder {folder} holds export {found.id} of run {run_id}, damaged ({why}); "
                               "delete the folder or choose another --out, then export again")
            if folder.parent.resolve() == store.home.exports_dir.resolve():
                return found
    return None


def export_run(store: Store, run_ref: int | str, options: ExportOptions, *,
               progress: Progress | None = None) -> ExportResult:
    """Write (or find) the export of a run's checkpoint.

    Raises:
        BadInput: unknown run, no such checkpoint, a recipe without exporter, an --out that is not empty.
        OperationFailed: writing failed (nothing half-written is left).
    """
    notify = progress or (lambda _p, _d, _t: None)
    # Not only a push talks to HF_ENDPOINT: importing bitsandbytes asks it for kernels, and an endpoint that
    # never answers held the export at "writing weights" for good.
    hub.set_timeouts()
    run = runs.get(store, run_ref)
    pending.adopt_dead(store)  # an export killed before its record: found (and reused) below
    with pinned_checkpoint(Path(run.run_dir), options.checkpoint, run_id=run.id, by="export") as (checkpoint, step):
        note = unsaved_best(store, run.id, Path(run.run_dir), step) if str(options.checkpoint) == "best" else None
        reused = find_reusable(store, run.id, step, options)
        if reused is not None:  # its card says what the store says now (evaluations, dataset name)
            refreshed, kept = model_card.refresh(store, run, reused)
            return ExportResult(refreshed, reused=True, note="; ".join(n for n in (note, kept) if n) or None)
        damaged = _damaged(store, run.id, step, options)
        return dataclasses.replace(_export(store, run, checkpoint, step, options, notify, damaged), note=note)


def _export(store: Store, run: Any, checkpoint: Path, step: int, options: ExportOptions,
            notify: Progress, damaged: Export | None = None) -> ExportResult:
    """Write the export; `damaged`, an export of the app's own exports/ folder, is written again in its
    folder and keeps its id."""
    from spark_trainer.jobs import leftovers
    from spark_trainer.jobs.submit import frozen_config

    config = frozen_config(Path(run.run_dir))
    exporter = exporter_for(config.recipe)
    if hasattr(exporter, "check_options"):
        exporter.check_options(merge=options.merge)
    dest = Path(damaged.path) if damaged is not None else _destination(store, options)
    staging = _staging_for(dest)
    with leftovers.noted_away(store.home.root, staging):  # beside a user's --out, the home's sweep finds it
        return _write_and_record(store, run, config, exporter, checkpoint, step, options, notify, damaged, dest,
                                 staging)


def _write_and_record(store: Store, run: Any, config: Any, exporter: Any, checkpoint: Path, step: int,
                      options: ExportOptions, notify: Progress, damaged: Export | None, dest: Path,
                      staging: Path) -> ExportResult:
    from spark_trainer.recipes.classification import run_label_names

    noted = None
    try:
        notify("writing weights", 0, 3)
        info: ExportInfo = exporter.write(config, checkpoint, staging, merge=options.merge, dtype=options.dtype,
                                          data_path=dataset_folder(store, config), labels=run_label_names(Path(run.run_dir)))
        notify("writing model card", 1, 3)
        model_card.write(store, run, config, step, info, staging)
        notify("finishing", 2, 3)
        disk.finish_staging(staging)  # on the disk before it has the export's name
        written = integrity.manifest(staging)  # what a reuse or a push checks is still there, unchanged
        recorded = {**_requested(run.id, step, options, config.recipe), "dtype": info.dtype, "kind": info.kind,
                    "library_name": info.library_name, "files": sorted(written), "manifest": written,
                    model_card.INFO_KEY: model_card.recorded_info(info)}
        if damaged is None:  # killed after the rename, the next export records it (export/pending.py)
            noted = pending.note(store, run.id, step, dest, recorded)
        dest = _replace_damaged(staging, dest) if damaged is not None else \
            _move_into_place(store, staging, dest, options)
        disk.fsync_dir(dest.parent)
    except BaseException as exc:
        # Libraries say a full disk their own way (safetensors: "I/O error: No space left on device
        # (os error 28)"): one line naming the place instead, worked out while the staging still fills it.
        failure = DiskFull(f"{disk.describe(exc, staging.parent)}; the export was not written", disk.fault_of(exc)) \
            if disk.is_write_error(exc) else None
        shutil.rmtree(staging, ignore_errors=True)
        if noted is not None:
            pending.drop(noted)
        if failure is None:
            raise
        raise failure from exc
    if damaged is not None:
        record = exports.set_options(store, damaged.id, recorded)
        notify("exported", 3, 3)
        return ExportResult(record, reused=False)
    try:
        record = exports.add(store, run.id, step=step, path=str(dest), options=recorded)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # recorded nowhere, it would stay in exports/ for good
        if not _run_exists(store, run.id):
            raise OperationFailed(f"run {run.id} was deleted while it was being exported; the export was not "
                                  "kept") from None
        raise
    finally:
        pending.drop(noted)
    notify("exported", 3, 3)
    return ExportResult(record, reused=False)


def _run_exists(store: Store, run_id: int) -> bool:
    try:
        runs.get(store, run_id)
    except NotFound:
        return False
    return True


def _destination(store: Store, options: ExportOptions) -> Path:
    if options.out is None:
        dest = store.home.export_dir(exports.next_id(store))
        n = 1
        while dest.exists():  # an unrecorded leftover (a deleted record): never write over it
            dest = store.home.exports_dir / f"{exports.next_id(store)}-{n}"
            n += 1
        return dest
    dest = Path(options.out).expanduser().resolve()
    home = store.home
    for folder, whose in ((home.runs_dir, "run"), (home.datasets_dir, "dataset"), (home.exports_dir, "export")):
        if dest.is_relative_to(folder.resolve()) and dest != home.exports_dir.resolve():
            # Deleting that run, dataset or export deletes its folder, with an export of yours inside it.
            raise BadInput(f"export folder {dest} is inside the data home's {folder.name}/ folder, whose "
                           f"folders go when their {whose} is deleted; choose a folder outside it")
    if dest.exists() and not dest.is_dir():
        raise BadInput(f"export folder {dest} is a file; choose a new or empty folder")
    if dest.exists() and any(dest.iterdir()):
        raise BadInput(f"export folder {dest} already exists and is not an empty folder; choose a new or empty folder")
    if dest.is_dir() and not os.access(dest, os.W_OK):
        # The export would replace it (renamed over it) by a writable folder of its own: the user's read-only
        # folder, and the permissions they gave it, would be gone without a word.
        raise BadInput(f"export folder {dest} is not writable; make it writable or choose another folder")
    # Named "export folder" (the dialog's Folder, the command line's --out), never by one of them.
    try:  # the staging folder is made beside it: check the place now, naming it, not the staging
        dest.parent.mkdir(parents=True, exist_ok=True)
        probe = dest.parent / f".write-check-{uuid.uuid4().hex[:8]}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        blocker = next((p for p in (dest, *dest.parents) if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file" if blocker is not None else (exc.strerror or str(exc))
        raise BadInput(f"export folder {dest}: cannot make a folder there ({why})") from None
    return dest


def _staging_for(dest: Path) -> Path:
    """A staging folder beside `dest` that is this export's alone: two exports to one folder at once (the
    app's dialog and a terminal) each write their own, and neither deletes the other's. Leftovers of an
    export that was killed (its process is gone) are removed."""
    from spark_trainer.jobs import leftovers

    prefix = f".staging-{dest.name}-"
    leftovers.remove_dead(dest.parent, prefix)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f"{prefix}{leftovers.tag()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()  # not mkdtemp: the export keeps the folder's mode, and mkdtemp's is 0700
    return staging


def _move_into_place(store: Store, staging: Path, dest: Path, options: ExportOptions) -> Path:
    """Rename the finished staging folder to `dest` (an empty --out is replaced). A folder that another
    export filled meanwhile is never replaced: --out is refused, the default place moves to the next name."""
    import errno

    while True:
        try:
            staging.replace(dest)  # over an empty --out only: a folder with files in it is ENOTEMPTY
            return dest
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if options.out is not None:
                raise BadInput(f"export folder {dest} was filled by another export meanwhile; choose a new or empty "
                               "folder") from None
            dest = _destination(store, options)


def _replace_damaged(staging: Path, dest: Path) -> Path:
    """Put the finished staging folder where a damaged export was: the damaged one is moved aside (under a
    staging name of this process, so a kill here leaves nothing the next export does not remove), then
    deleted."""
    from spark_trainer.jobs import leftovers

    aside = dest.parent / f".staging-{dest.name}-{leftovers.tag()}-{uuid.uuid4().hex[:8]}"
    dest.replace(aside)
    staging.replace(dest)
    shutil.rmtree(aside, ignore_errors=True)
    return dest


def push_export(store: Store, export: Export, repo_id: str, *, private: bool = False,
                progress: Progress | None = None) -> tuple[Export, hub.Pushed]:
    """Upload an export folder and record its Hub URL. The folder is left as it is on failure."""
    folder = Path(export.path)
    why = integrity.damage(export.options, folder)
    if why is not None:
        again = (f"`export {export.run_id}` writes it again" if folder.parent.resolve() == store.home.exports_dir.resolve()
                 else "delete the folder and export the run again")
        raise BadInput(f"export {export.id} at {folder} is damaged ({why}); not pushed: {again}")
    pushed = hub.push_folder(folder, repo_id, private=private, progress=progress,
                             message=f"Upload run {export.run_id} (step {export.step}) from SparkTrainer")
    return exports.set_pushed(store, export.id, repo=repo_id, url=pushed.url), pushed
