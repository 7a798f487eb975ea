"""Experiments, Runs and Leaderboard until the second GUI issue fills them in.

Each shows real numbers and a read-only table from the store, says plainly what is coming, and
names the command that does the job today. No buttons that do nothing.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.context import AppContext
from app.views.base import BaseView
from app.widgets import MessageBanner, StatCard
from spark_trainer.errors import SparkError
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


class PlaceholderView(BaseView):
    coming = ""
    cards: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.note = QLabel(self.coming)
        self.note.setProperty("role", "info")
        self.note.setWordWrap(True)
        self.body.addWidget(self.note)
        self.banner = MessageBanner()
        self.body.addWidget(self.banner)
        row = QHBoxLayout()
        self.card_widgets = {name: StatCard(name) for name in self.cards}
        for card in self.card_widgets.values():
            row.addWidget(card)
        row.addStretch(1)
        self.body.addLayout(row)
        self.table = QTableWidget(0, len(self.columns))
        self.table.setHorizontalHeaderLabels(list(self.columns))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel("")
        self.empty.setObjectName("Muted")
        self.body.addWidget(self.table, 1)
        self.body.addWidget(self.empty)
        self.refresh()

    def refresh(self) -> None:
        try:
            counts, rows, empty = self.read()
        except SparkError as exc:
            self.banner.show_message(f"Could not read the store: {exc}", "error")
            return
        self.banner.clear_message()
        for name, value in counts.items():
            self.card_widgets[name].set_value(value)
        self.table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(str(value)))
        self.table.setVisible(bool(rows))
        self.empty.setText("" if rows else empty)

    def read(self) -> tuple[dict[str, int], list[tuple[object, ...]], str]:
        raise NotImplementedError


def _project_names(store: Store) -> dict[int, str]:
    return {p.id: p.name for p in projects.list_all(store)}


class ExperimentsView(PlaceholderView):
    title = "Experiments"
    coming = ("Experiment setup (a form generated from each recipe's settings, base-model and GPU pickers, "
              "memory estimate, presets, Launch) arrives with the next GUI update. Today: "
              "`spark-trainer exp create` or `spark-trainer train run.yaml`.")
    cards = ("experiments", "with runs", "recipes used")
    columns = ("ID", "Project", "Name", "Recipe", "Base model", "Runs", "Created")

    def read(self) -> tuple[dict[str, int], list[tuple[object, ...]], str]:
        items = experiments.list_all(self.store)
        counts = {"experiments": len(items), "with runs": sum(1 for e in items if e.num_runs),
                  "recipes used": len({e.recipe for e in items})}
        rows = [(e.id, e.project, e.name, e.recipe, e.base_model, e.num_runs, f"{e.created_at:%Y-%m-%d %H:%M}")
                for e in items]
        return counts, rows, "No experiments yet."


class RunsView(PlaceholderView):
    title = "Runs"
    coming = ("Live charts, log tail, checkpoints and run actions (cancel, pause, resume, extend, clone) arrive "
              "with the next GUI update. Today: `spark-trainer run list`, `run logs --follow`, `run cancel`.")
    cards = ("running", "queued", "completed", "failed or interrupted")
    columns = ("ID", "Project", "Experiment", "Status", "Step", "GPUs", "Created")

    def read(self) -> tuple[dict[str, int], list[tuple[object, ...]], str]:
        items = list(reversed(runs.list_all(self.store)))
        names = _project_names(self.store)
        status = [r.status for r in items]
        counts = {
            "running": sum(1 for s in status if s.is_active),
            "queued": status.count(RunStatus.QUEUED),
            "completed": status.count(RunStatus.COMPLETED),
            "failed or interrupted": status.count(RunStatus.FAILED) + status.count(RunStatus.INTERRUPTED),
        }
        rows = [
            (r.id, names.get(r.project_id, r.project_id), r.experiment, r.status.value,
             f"{r.step}/{r.total_steps}" if r.total_steps else str(r.step),
             ",".join(map(str, r.gpus)) or r.requested_gpus, f"{r.created_at:%Y-%m-%d %H:%M}")
            for r in items
        ]
        return counts, rows, "No runs yet."


class LeaderboardView(PlaceholderView):
    title = "Leaderboard"
    coming = ("Ranking runs by a chosen metric, filtered by project, dataset and recipe, arrives with the next "
              "GUI update. Completed runs are listed here meanwhile; `spark-trainer run metrics RUN` prints a "
              "run's metrics.")
    cards = ("completed runs", "projects with runs")
    columns = ("Run", "Project", "Experiment", "Recipe", "Steps", "Finished")

    def read(self) -> tuple[dict[str, int], list[tuple[object, ...]], str]:
        done = [r for r in runs.list_all(self.store) if r.status == RunStatus.COMPLETED]
        names = _project_names(self.store)
        counts = {"completed runs": len(done), "projects with runs": len({r.project_id for r in done})}
        rows = [(r.id, names.get(r.project_id, r.project_id), r.experiment, r.recipe, r.step,
                 f"{r.finished_at:%Y-%m-%d %H:%M}" if r.finished_at else "-") for r in reversed(done)]
        return counts, rows, "No completed runs yet: the leaderboard fills as runs finish."
