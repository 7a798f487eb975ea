"""Sweeps as the store knows them: the runs that share a `sweep` name. A sweep has no row of its
own; its name, experiment and values live on its runs (see `runs.create`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from spark_trainer.errors import NotFound
from spark_trainer.store.models import ExperimentRow, RunRow
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class SweepSummary:
    name: str
    experiment: str
    recipe: str
    num_runs: int
    created_at: datetime


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
        return [SweepSummary(name, exp, recipe, int(count), created)
                for name, exp, recipe, count, created in session.execute(query)]


def exists(store: Store, name: str) -> bool:
    with store.read() as session:
        return session.scalar(select(RunRow.id).where(RunRow.sweep == name).limit(1)) is not None


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
