"""Sweeps as the store knows them: the runs that share a `sweep` name, and the sweep's plan. A sweep
has no row of its own; its name, experiment and values live on its runs (see `runs.create`). Its plan
(`sweep_plans`, since migration 0012) holds every combination it queued, so runs deleted since are
known; sweeps queued by an older SparkTrainer have none."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spark_trainer.errors import NotFound
from spark_trainer.store.models import ExperimentRow, RunRow, SweepPlanRow
from spark_trainer.store.projects import same_name
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class SweepSummary:
    name: str
    experiment: str
    recipe: str
    num_runs: int
    created_at: datetime
    queued: int | None = None  # runs the sweep queued (its plan's size); None: queued before plans were kept

    @property
    def deleted(self) -> int | None:
        """Its runs deleted since it was queued; None when that is not known (no plan)."""
        return None if self.queued is None else self.queued - self.num_runs


@dataclass(frozen=True)
class ExperimentSweep:
    """A sweep of one experiment: its runs each have their own value of every swept key."""

    name: str
    num_runs: int
    values: dict[str, list[Any]] = field(default_factory=dict)  # swept key -> its values, in run order


def list_all(store: Store) -> list[SweepSummary]:
    """Every sweep with runs in the store, oldest first."""
    query = (select(RunRow.sweep, ExperimentRow.name, ExperimentRow.recipe, func.count(RunRow.id),
                    func.min(RunRow.created_at))
             .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
             .where(RunRow.sweep.is_not(None))
             .group_by(RunRow.sweep, ExperimentRow.name, ExperimentRow.recipe)
             .order_by(func.min(RunRow.id)))
    with store.read() as session:
        planned = {name: len(combos) for name, combos in session.execute(select(SweepPlanRow.name,
                                                                                SweepPlanRow.combinations))}
        return [SweepSummary(name, exp, recipe, int(count), created, planned.get(name))
                for name, exp, recipe, count, created in session.execute(query)]


def record_plan(session: Session, name: str, combinations: list[dict[str, Any]], created_at: datetime) -> None:
    """Record, in the transaction that queues its runs, every combination sweep `name` queues. A plan
    left by an earlier sweep of that name (all its runs deleted, so the name was free) is replaced."""
    session.execute(delete(SweepPlanRow).where(same_name(SweepPlanRow.name, name)))
    session.add(SweepPlanRow(name=name, combinations=[dict(c) for c in combinations], created_at=created_at))


def plan(store: Store, name: str) -> list[dict[str, Any]] | None:
    """The combinations sweep `name` queued, in order; None for a sweep queued before plans were kept."""
    with store.read() as session:
        combos = session.scalar(select(SweepPlanRow.combinations).where(same_name(SweepPlanRow.name, name)))
    return None if combos is None else [dict(c) for c in combos]


def exists(store: Store, name: str) -> bool:
    with store.read() as session:
        return session.scalar(select(RunRow.id).where(same_name(RunRow.sweep, name)).limit(1)) is not None


def require(store: Store, name: str) -> None:
    """NotFound (naming the known sweeps) unless a run belongs to sweep `name`."""
    if not exists(store, name):
        known = ", ".join(s.name for s in list_all(store)[-10:]) or "none yet"
        raise NotFound(f"no sweep named {name!r}; sweeps: {known} (see `spark-trainer sweep list`)")


def next_name(store: Store, experiment: str) -> str:
    """`<experiment>-sweep-<n>`, the first n not taken."""
    with store.read() as session:
        taken = set(session.scalars(select(RunRow.sweep).where(RunRow.sweep.like(f"{experiment}-sweep-%")).distinct()))
    n = 1
    while f"{experiment}-sweep-{n}" in taken:
        n += 1
    return f"{experiment}-sweep-{n}"


def for_experiment(store: Store, experiment_id: int) -> list[ExperimentSweep]:
    """The sweeps whose runs belong to the experiment, oldest first. The experiment's stored config
    holds one value of each swept key (the first run's, when the sweep created the experiment);
    each run's frozen config has its own."""
    query = (select(RunRow.sweep, RunRow.sweep_values).where(RunRow.experiment_id == experiment_id,
                                                             RunRow.sweep.is_not(None)).order_by(RunRow.id))
    found: dict[str, tuple[int, dict[str, list[Any]]]] = {}
    with store.read() as session:
        for name, swept in session.execute(query):
            count, values = found.get(name, (0, {}))
            for key, value in (swept or {}).items():
                known = values.setdefault(key, [])
                if not any(type(v) is type(value) and v == value for v in known):  # 1 and True stay apart
                    known.append(value)
            found[name] = (count + 1, values)
    return [ExperimentSweep(name, count, values) for name, (count, values) in found.items()]
