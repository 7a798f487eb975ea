"""Before a run is queued again: are the files it was frozen with still there?

Between a pause and a resume users move or delete things by hand: the base model's folder, the
dataset's files in the data home, the run folder itself, or they edit its config.yaml. Without
this look the resume said "started", the worker failed a few seconds later with a bare
"/models/x does not exist", and the run went from paused to failed. Here the resume is refused
instead, with one line naming what is missing and what to do; the run keeps its status.
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.errors import BadInput, NotFound
from spark_trainer.store import datasets
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store


def check_inputs(store: Store, run: Run, doing: str = "resume") -> None:
    """Raise BadInput (one line naming the run, the file and the fix) if `run` cannot train now
    (`doing`: what the caller is about, "resume" or "be extended")."""
    from spark_trainer.jobs.submit import frozen_config
    from spark_trainer.models.loading import resolve_for_run

    folder = Path(run.run_dir)
    if not folder.is_dir():
        raise BadInput(f"run {run.id} cannot {doing}: its folder {folder} is gone (deleted or moved by hand); "
                       f"start a new run of experiment {run.experiment!r} instead")
    try:
        config = frozen_config(folder)
    except BadInput:
        return  # a config.yaml missing or broken by hand: the worker names the file and line, as for any run
    try:  # as the worker will look for it (frozen absolute; older runs may hold a name), in this store's home
        resolve_for_run(config.base_model, (store.home.root, store.home.models_dir))
    except BadInput as exc:
        raise BadInput(f"run {run.id} cannot {doing}: its base model is gone or changed since the run was "
                       f"submitted ({exc}); put the model back there, then try again") from None
    try:
        dataset = datasets.get(store, config.dataset)
    except NotFound:
        raise BadInput(f"run {run.id} cannot {doing}: its dataset {config.dataset} was deleted; start a new run "
                       "on another dataset instead") from None
    manifest = Path(dataset.path) / "manifest.jsonl"
    if not manifest.is_file():
        raise BadInput(f"run {run.id} cannot {doing}: dataset {dataset.name!r} has lost its files ({manifest} is "
                       "gone); put them back, or ingest the data again and start a new run")
