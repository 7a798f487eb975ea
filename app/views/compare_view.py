"""Compare runs: curves overlaid in distinct colours, the config values that differ, samples side by side."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.charts.feed import MetricBatch, MetricFeed
from app.charts.live_chart import colour
from app.charts.panel import ChartPanel
from app.context import AppContext
from app.views.samples import sample_text
from spark_trainer.leaderboard import config_diff, run_config
from spark_trainer.store import artifacts, runs
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store


class CompareView(QWidget):
    back = Signal()

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.runs: list[Run] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.back_button = QPushButton("← All runs")
        self.back_button.clicked.connect(self.back.emit)
        self.heading = QLabel("Compare runs")
        self.heading.setObjectName("ViewTitle")
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        top.addWidget(self.back_button)
        top.addWidget(self.heading)
        top.addSpacing(12)
        top.addWidget(self.legend, 1)
        layout.addLayout(top)
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.charts = ChartPanel()
        splitter.addWidget(self.charts)
        self.tabs = QTabWidget()
        self.diff = QTableWidget(0, 1)
        self.diff.verticalHeader().setVisible(False)
        self.diff.verticalHeader().setDefaultSectionSize(24)
        self.diff.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.diff_note = QLabel("")
        diff_page = QWidget()
        diff_layout = QVBoxLayout(diff_page)
        diff_layout.addWidget(self.diff_note)
        diff_layout.addWidget(self.diff, 1)
        self.samples = QWidget()
        self.samples_layout = QHBoxLayout(self.samples)
        self.tabs.addTab(diff_page, "Config differences")
        self.tabs.addTab(self.samples, "Samples side by side")
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        for chart in self.charts.charts.values():
            chart.legend.hide()  # the run colours are named above; curves stay uncovered
            chart.plot_widget.setMinimumHeight(110)
            chart.empty_label.setMinimumHeight(110)
        layout.addWidget(splitter, 1)
        self.feed = MetricFeed(store, ctx.pool, parent=self)
        self.feed.points.connect(self._on_points)

    def compare(self, run_ids: list[int]) -> None:
        self.runs = [runs.get(self.store, r) for r in run_ids]
        self.charts.clear()
        self.charts.charts["memory"].set_empty_text("No run here reported GPU memory (CPU runs do not)")
        self.legend.setText("  ".join(f'<span style="color:{colour(i)}">■</span> run {r.id} · {r.experiment}'
                                      for i, r in enumerate(self.runs))
                            + '  <span style="color:gray">solid: training · dashed: evaluation</span>')
        self._fill_diff()
        self._fill_samples()
        self.feed.watch(run_ids)
        self.feed.start()

    def _on_points(self, batch: MetricBatch) -> None:
        index = next((i for i, r in enumerate(self.runs) if r.id == batch.run_id), 0)
        self.charts.add_batch(batch, prefix=f"run {batch.run_id} ", colour=colour(index))

    def _fill_diff(self) -> None:
        configs = [run_config(self.store, r) for r in self.runs]
        diff = config_diff(configs, ignore=("name", "notes", "dataset", "project"))
        self.diff.setColumnCount(1 + len(self.runs))
        self.diff.setHorizontalHeaderLabels(["Setting"] + [f"run {r.id} ({r.experiment})" for r in self.runs])
        self.diff.setRowCount(len(diff))
        for row, (key, values) in enumerate(diff.items()):
            self.diff.setItem(row, 0, QTableWidgetItem(key))
            for col, value in enumerate(values, start=1):
                self.diff.setItem(row, col, QTableWidgetItem("-" if value is None else str(value)))
        self.diff_note.setText(f"{len(diff)} setting{'s' if len(diff) != 1 else ''} differ" if diff else
                               "These runs use the same settings.")

    def _fill_samples(self) -> None:
        while self.samples_layout.count():
            item = self.samples_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for i, run in enumerate(self.runs):
            found = artifacts.list_for(self.store, run.id, "sample")
            box = QPlainTextEdit()
            box.setReadOnly(True)
            if found:
                box.setPlainText(f"run {run.id}, step {found[-1].step}\n\n{sample_text(Path(found[-1].path))}")
            else:
                box.setPlainText(f"run {run.id}: no samples")
            box.setStyleSheet(f"border-top: 3px solid {colour(i)};")
            self.samples_layout.addWidget(box)

    def stop(self) -> None:
        self.feed.stop()

    def busy(self) -> bool:
        return self.feed.busy
