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
from spark_trainer.store.store import Store

__all__ = ["Artifact", "Dataset", "Experiment", "Metric", "Project", "Run", "RunEvent", "RunStatus", "Store"]
