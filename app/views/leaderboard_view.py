"""Leaderboard: runs ranked by a chosen metric, filtered by project, dataset and recipe."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.context import AppContext
from app.views.base import BaseView
from app.views.leaderboard_evals import add_evaluations
from app.widgets import MessageBanner
from spark_trainer.errors import SparkError
from spark_trainer.leaderboard import lower_is_better, metric_keys, rank
from spark_trainer.recipes.registry import list_recipes
from spark_trainer.store import datasets, projects
from spark_trainer.store.store import Store

COLUMNS = ("Rank", "Run", "Project", "Experiment", "Dataset", "Recipe", "Score", "Last step", "Points", "Status")


class LeaderboardView(BaseView):
    title = "Leaderboard"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.banner = MessageBanner()
        self.body.addWidget(self.banner)
        row = QHBoxLayout()
        self.metric = QComboBox()
        self.metric.setMinimumWidth(160)
        self.use = QComboBox()
        self.use.addItems(["best", "last"])
        self.use.setToolTip("Rank by each run's best value of the metric, or its last value")
        self.project = QComboBox()
        self.dataset = QComboBox()
        self.recipe = QComboBox()
        for label, widget in (("Metric", self.metric), ("Value", self.use), ("Project", self.project),
                              ("Dataset", self.dataset), ("Recipe", self.recipe)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        row.addStretch(1)
        self.body.addLayout(row)
        self.order_note = QLabel("")
        self.order_note.setObjectName("Muted")
        self.body.addWidget(self.order_note)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.body.addWidget(self.table, 1)
        self.empty = QLabel("")
        self.empty.setObjectName("Muted")
        self.body.addWidget(self.empty)
        for combo in (self.metric, self.use, self.dataset, self.recipe):
            combo.currentIndexChanged.connect(lambda _i: self.rank())
        self.project.currentIndexChanged.connect(lambda _i: self._on_project())
        self.table.cellDoubleClicked.connect(
            lambda r, _c: self.ctx.navigate("runs", int(self.table.item(r, 1).text())))
        self.refresh()

    def refresh(self) -> None:
        try:
            keys = metric_keys(self.store)
            project_list = projects.list_all(self.store)
        except SparkError as exc:
            self.banner.show_message(f"Could not read the store: {exc}", "error")
            return
        preferred = self.metric.currentText() or next((k for k in ("eval_loss", "loss") if k in keys),
                                                      keys[0] if keys else "")
        self._refill(self.metric, [(k, k) for k in keys], preferred)
        self._refill(self.project, [("all projects", None)] + [(p.name, p.id) for p in project_list],
                     self.project.currentData())
        self._refill(self.recipe, [("all recipes", None)] + [(r.name, r.name) for r in list_recipes()],
                     self.recipe.currentData())
        self._on_project()

    @staticmethod
    def _refill(combo: QComboBox, items: list[tuple[str, object]], keep: object) -> None:
        combo.blockSignals(True)
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)
        index = combo.findData(keep) if keep is not None else -1
        if index < 0 and isinstance(keep, str):
            index = combo.findText(keep)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def _on_project(self) -> None:
        project = self.project.currentData()
        try:
            found = datasets.list_all(self.store, project)
        except SparkError:
            found = []
        self._dataset_names = {d.id: d.name for d in datasets.list_all(self.store)}
        self._project_names = {p.id: p.name for p in projects.list_all(self.store)}
        self._refill(self.dataset, [("all datasets", None)] + [(f"{d.name} ({d.project})", d.id) for d in found],
                     self.dataset.currentData())
        self.rank()

    def rank(self) -> None:
        key = self.metric.currentText()
        if not key:
            self.table.setRowCount(0)
            self.table.hide()
            self.empty.setText("No run has reported metrics yet: the leaderboard fills as runs train.")
            self.empty.show()
            return
        try:
            entries = rank(self.store, key, project=self.project.currentData(), dataset=self.dataset.currentData(),
                           recipe=self.recipe.currentData(), use=self.use.currentText())
        except SparkError as exc:
            self.banner.show_message(str(exc), "error")
            return
        self.order_note.setText(f"{'Lower' if lower_is_better(key) else 'Higher'} {key} ranks first; "
                                "double-click a run to open it.")
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            cells = (e.rank, e.run.id, e.project, e.run.experiment,
                     self._dataset_names.get(e.dataset_id, "-") if e.dataset_id else "-", e.run.recipe,
                     f"{e.score:.4f}", e.summary.last_step, e.summary.count, e.run.status.value)
            for col, value in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(str(value)))
        add_evaluations(self.table, COLUMNS, self.store, entries, key, self.project.currentData())
        self.table.setVisible(bool(entries))
        self.empty.setText("" if entries else f"No run matching these filters has recorded {key}.")
        self.empty.setVisible(not entries)
