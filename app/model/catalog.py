"""`ProjectsModel` and `DatasetsModel`: the project and dataset lists, read by the store poller.

They change rarely, so the poller reads them every few ticks, when the set of runs changed, and
at once after this app wrote something (`AppModel.refresh`). A list that reads the same as before
emits nothing. `writes` counts what this app wrote itself: a read requested before one of them lands
without it, so the poller drops that read (the read asked for after the write brings it).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from spark_trainer.store.entities import Dataset, Project


class ProjectsModel(QObject):
    projects_reset = Signal(list)  # list[Project], by name

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.projects: list[Project] = []
        self.loaded = False
        self.writes = 0  # apply_written / apply_removed calls so far

    def apply(self, found: list[Project]) -> None:
        if self.loaded and found == self.projects:
            return
        self.projects, self.loaded = found, True
        self.projects_reset.emit(found)

    def names(self) -> dict[int, str]:
        return {p.id: p.name for p in self.projects}

    def apply_written(self, project: Project) -> None:
        """A project this app just created or renamed: shown at once (the poller re-reads the counts)."""
        self.writes += 1
        others = [p for p in self.projects if p.id != project.id]
        self.apply(sorted([*others, project], key=lambda p: p.name))

    def apply_removed(self, project_id: int) -> None:
        self.writes += 1
        self.apply([p for p in self.projects if p.id != project_id])

    def matching(self, search: str | None) -> list[Project]:
        """Projects whose name contains `search` (any case), as `projects.list_all` filters."""
        term = (search or "").strip().lower()
        return [p for p in self.projects if term in p.name.lower()] if term else list(self.projects)


class DatasetsModel(QObject):
    datasets_reset = Signal(list)  # list[Dataset]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.datasets: list[Dataset] = []
        self.loaded = False
        self.writes = 0  # apply_written / apply_removed calls so far

    def apply(self, found: list[Dataset]) -> None:
        if self.loaded and found == self.datasets:
            return
        self.datasets, self.loaded = found, True
        self.datasets_reset.emit(found)

    def of_project(self, project: int | str | None) -> list[Dataset]:
        """Datasets of a project given by id or name (all of them for None)."""
        if project is None:
            return list(self.datasets)
        return [d for d in self.datasets if d.project_id == project or d.project == project]

    def names(self) -> dict[int, str]:
        return {d.id: d.name for d in self.datasets}

    def get(self, dataset_id: int) -> Dataset | None:
        return next((d for d in self.datasets if d.id == dataset_id), None)

    def apply_written(self, dataset: Dataset) -> None:
        """A dataset this app just created: shown at once."""
        self.writes += 1
        self.apply(sorted([*(d for d in self.datasets if d.id != dataset.id), dataset], key=lambda d: d.id))

    def apply_removed(self, dataset_id: int) -> None:
        self.writes += 1
        self.apply([d for d in self.datasets if d.id != dataset_id])
