"""The one rule for deletes: nothing is removed while a run, or an evaluation, that uses it is in progress.

A run in progress (starting, running, stalled) reads its own dataset (`runs.dataset_id`, the one its
frozen config names, which need not be its experiment's) and writes its rows and folder; deleting its
project, dataset, experiment or the run itself under it would cascade its rows away while the worker
still writes them. A queued run reads its dataset when it starts, so its dataset is kept too. A paused
or interrupted run reads it again when resumed: `resumable_runs` names those, for `datasets.delete` to
refuse without force (deleted, the run can no longer be resumed). Each store delete calls
`refuse_if_in_use` inside its own write transaction (so no run can start between the check and the
delete); front ends call `check` first to explain before asking for confirmation. An evaluation in progress (queued or running)
reads its run's checkpoint and writes the run's rows likewise: its run, experiment and project wait for
it. Callers reconcile first, so a run or an evaluation whose worker died does not block a delete.
"""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from spark_trainer.errors import Conflict
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.models import DatasetRow, EvaluationRow, ExperimentRow, ProjectRow, RunRow
from spark_trainer.store.store import Store

Kind = Literal["project", "dataset", "experiment", "run"]
_ACTIVE = [s.value for s in RunStatus if s.is_active]


_RESUMABLE = [RunStatus.PAUSED.value, RunStatus.INTERRUPTED.value]


def _active_runs(session: Session, kind: Kind, row_id: int) -> list[tuple[int, str]]:
    query = select(RunRow.id, RunRow.status).join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
    # A queued run reads its dataset when it starts: deleting the dataset would fail it then. Deleting
    # its project or experiment (or it) removes the queued run too, so that is left to those deletes.
    statuses = [*_ACTIVE, RunStatus.QUEUED.value] if kind == "dataset" else _ACTIVE
    query = query.where(RunRow.status.in_(statuses)).order_by(RunRow.id)
    # A run's own dataset, not its experiment's: a run file whose data changed trains on a new ingestion
    # under the same experiment.
    where = {"project": ExperimentRow.project_id, "dataset": RunRow.dataset_id,
             "experiment": ExperimentRow.id, "run": RunRow.id}[kind]
    return [(r.id, r.status) for r in session.execute(query.where(where == row_id))]


def resumable_runs(session: Session, dataset_id: int) -> list[tuple[int, str]]:
    """(id, status) of the paused or interrupted runs that train on this dataset: deleted, they can no
    longer be resumed (`datasets.delete` refuses unless forced, naming them)."""
    query = (select(RunRow.id, RunRow.status).where(RunRow.dataset_id == dataset_id)
             .where(RunRow.status.in_(_RESUMABLE)).order_by(RunRow.id))
    return [(r.id, r.status) for r in session.execute(query)]


# The runs a refusal below names, read back from its words by a window that shows it (a banner clears once
# they moved on): "run 6 is in progress (running)", "run 6, which is running", "runs 6 (running) and 7
# (queued)". Kept beside the words it reads: changing one means changing the other.
_NAMED_RUNS = re.compile(r"\brun (\d+) is in progress \((\w+)\)|\brun (\d+), which is (\w+)|\b(\d+) \((\w+)\)")


def runs_named_in(refusal: str) -> list[tuple[int, str]]:
    """(run id, status) of each run in progress a refusal of this module names."""
    found = []
    for match in _NAMED_RUNS.finditer(refusal):
        run_id, status = [g for g in match.groups() if g is not None]
        found.append((int(run_id), status))
    return found


def _runs_in_progress(found: list[tuple[int, str]]) -> str:
    """'run 6, which is running' or 'runs 6 (running) and 7 (queued)': "in use by run in progress
    6 (running)" read like a run named 'in progress'."""
    if len(found) == 1:
        return f"run {found[0][0]}, which is {found[0][1]}"
    listed = [f"{rid} ({status})" for rid, status in found]
    return f"runs {', '.join(listed[:-1])} and {listed[-1]}"


def _advice(kind: Kind, found: list[tuple[int, str]]) -> str:
    """What to do about the runs in progress, true for each: a queued run cannot be paused (`run pause`
    refuses it), and a dataset deleted under a paused run leaves a run that can no longer be resumed."""
    them = "them" if len(found) > 1 else "it"
    if kind != "dataset":
        return f"cancel or pause {them} before deleting"
    if all(status == RunStatus.QUEUED.value for _, status in found):
        return f"cancel {them} before deleting"
    return (f"cancel {them} before deleting (a run paused instead can no longer be resumed once its dataset "
            "is deleted)")


def _active_evaluation(session: Session, kind: Kind, row_id: int) -> tuple[int, int] | None:
    """(evaluation id, run id) of an evaluation in progress of a run this delete would remove. Its worker
    reads the run's checkpoint and writes its rows; callers reconcile first, so a dead one is failed."""
    if kind == "dataset":
        return None  # an evaluation reads its own --data, not the run's dataset
    query = (select(EvaluationRow.id, EvaluationRow.run_id).join(RunRow, EvaluationRow.run_id == RunRow.id)
             .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
             .where(EvaluationRow.status.in_(("queued", "running"))).order_by(EvaluationRow.id))
    where = {"project": ExperimentRow.project_id, "experiment": ExperimentRow.id, "run": RunRow.id}[kind]
    found = session.execute(query.where(where == row_id)).first()
    return (found.id, found.run_id) if found is not None else None


def _name(session: Session, kind: Kind, row_id: int) -> str:
    model = {"project": ProjectRow, "dataset": DatasetRow, "experiment": ExperimentRow}.get(kind)
    row = session.get(model, row_id) if model is not None else None
    return f"{kind} {row.name!r}" if row is not None else f"{kind} {row_id}"


def refuse_if_in_use(session: Session, kind: Kind, row_id: int) -> None:
    """Raise Conflict naming the runs in progress that use this object (inside a write session)."""
    found = _active_runs(session, kind, row_id)
    if found and kind == "run":  # the run itself: "run 5 is in use by run in progress 5" said it twice
        raise Conflict(f"run {row_id} is in progress ({found[0][1]}); cancel or pause it before deleting")
    if found:
        raise Conflict(f"{_name(session, kind, row_id)} is in use by {_runs_in_progress(found)}; "
                       f"{_advice(kind, found)}")
    evaluated = _active_evaluation(session, kind, row_id)
    if evaluated is not None and kind == "run":
        raise Conflict(f"run {row_id} is being evaluated (evaluation {evaluated[0]}); let it finish or cancel it "
                       "before deleting")
    if evaluated is not None:
        raise Conflict(f"{_name(session, kind, row_id)} is in use by evaluation {evaluated[0]} of run {evaluated[1]}; "
                       "let it finish or cancel it before deleting")


def check(store: Store, kind: Kind, row_id: int) -> None:
    """The same check as a read, for a front end to explain before it asks for confirmation."""
    with store.read() as session:
        refuse_if_in_use(session, kind, row_id)
