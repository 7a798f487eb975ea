"""Ingestion fixtures: a store with one project, and helpers to check nothing was left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.store import datasets, projects


@pytest.fixture
def project(store) -> str:
    projects.create(store, "p")
    return "p"


def leftovers(store) -> tuple[list, list[str]]:
    """(dataset rows, entries in the datasets folder): both empty after a failed ingestion."""
    folder: Path = store.home.datasets_dir
    entries = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return datasets.list_all(store), entries
