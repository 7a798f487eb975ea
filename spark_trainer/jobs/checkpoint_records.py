"""Checkpoints on disk that the store does not list: recorded when the run next ends, resumes or
is reconciled.

A checkpoint is published on disk (staged, then renamed into place) before it is recorded as an
artifact. If the database cannot be written between the two (its disk filled up, or the worker
was killed), the run still resumes from that checkpoint (resuming reads the folder), but the run's
artifact list misses it. `record_missing` makes the list catch up with the complete checkpoints
that carry this run's uuid. Pruning is left as it is: a recorded checkpoint whose folder was
pruned keeps its row (the run's history of what was saved, as for any pruned checkpoint), and one
pruned before it could be recorded is not added.

The event says why it was recorded late: the caller knows. A worker that records its own end finds
its unrecorded checkpoints only after a database write failed (`DATABASE_FAILED`, the default); a
controller recording the end of a worker that is gone (reconcile, a pause or cancel whose worker died)
and a resumed worker at its start, finding what the worker before it left, say `WORKER_STOPPED`: that
worker was killed or died between publishing and recording (or its own end could not record them).
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.store import artifacts, runs
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store
from spark_trainer.training import checkpoints

DATABASE_FAILED = "the database could not be written then"
WORKER_STOPPED = "the worker stopped before recording it"


def record_missing(store: Store, run: Run, *, why: str = DATABASE_FAILED) -> list[int]:
    """Record this run's complete checkpoints that are on disk but not among its artifacts (with a
    run event naming them and `why` they were not recorded when saved); returns their steps.

    Raises:
        StoreDiskFull: the database still cannot be written (a later end, resume or reconcile retries).
    """
    if not run.run_dir:
        return []
    recorded = {a.step for a in artifacts.list_for(store, run.id, "checkpoint")}
    added = []
    for path in checkpoints.list_checkpoints(Path(run.run_dir)):
        step = checkpoints.checkpoint_step(path)
        if step in recorded:
            continue
        state = checkpoints.read_state(path)
        if state.get("run_uuid") != run.uuid:  # only folders that say they are this run's
            continue
        artifacts.add(store, run.id, "checkpoint", str(path), step=step,
                      meta={"metric": state.get("metric"), "recorded_late": True})
        added.append(step)
    if added:
        names = ", ".join(f"step-{s:08d}" for s in added)
        runs.note(store, run.id, f"recorded checkpoint{'s' if len(added) > 1 else ''} {names}: written to disk "
                  f"but not recorded when saved ({why})")
    return added
