"""The local store: one SQLite database per data home. Query modules return plain entities.

Usage:
    store = Store.open(home)
    from spark_trainer.store import projects
    projects.create(store, "demo")
"""

from __future__ import annotations

from spark_trainer.store.entities import (
    Artifact,
    Dataset,
    Experiment,
    Metric,
    Project,
    Run,
    RunEvent,
    RunStatus,
)

__all__ = ["Artifact", "Dataset", "Experiment", "Metric", "Project", "Run", "RunEvent", "RunStatus", "Store"]


def __getattr__(name: str) -> object:
    # `Store` (and SQLAlchemy with it) loads on first use: the entities and the GUI's first window need
    # neither, and importing SQLAlchemy is a large share of a process's start-up.
    if name == "Store":
        from spark_trainer.store.store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
