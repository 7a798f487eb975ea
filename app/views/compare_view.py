"""Compare runs: curves overlaid in distinct colours, the config values that differ, evaluation results per
evaluation data, samples side by side.

Curves come from the app model (a `MetricFeed`); the runs' configs and last samples are read on
the pool (`read_comparison`), never on the GUI thread. The run metrics `evals/...` are not drawn: each
holds a run's results on every evaluation data it was evaluated on (an 18-row held-out file, then a
1-row one), so the "Evaluation results" tab shows them per data instead (`compared_evals`, as `compare`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.charts.colours import colour
from app.charts.feed import MetricBatch, MetricFeed
from app.charts.live_chart import LiveChartWidget
from app.charts.panel import NO_POINTS_ENDED, NO_POINTS_ENDED_ALL, NO_POINTS_YET, ChartPanel
from app.context import AppContext
from app.views.samples import LoadedSample, load_sample, sample_widget
from app.widgets import clear_layout
from app.workers import Task, pending
from spark_trainer.evaluation.leaderboard import EvalRow, compared_evals
from spark_trainer.evaluation.tasks import METRIC_PREFIX
from spark_trainer.leaderboard import SettingRow, compared_settings
from spark_trainer.store import artifacts, runs
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store

NBSP, WORD_JOINER = "\u00a0", "\u2060"
LEGEND_NAME_PX = 260  # the most of a legend entry ("run N · experiment") shown; the tooltip has the rest
LEGEND_LINES = 3  # the most lines of run names shown above the charts; more scroll


@dataclass
class Comparison:
    runs: list[Run]
    diff: list[SettingRow]  # the settings that differ, each run's value
    samples: list[LoadedSample | None]  # per run: its last sample (texts or decoded images), or None
    evals: list[EvalRow] = field(default_factory=list)  # evaluation results, a row per metric and data


def read_comparison(store: Store, run_ids: list[int]) -> Comparison:
    """What the compare page shows besides curves (store and file reads: call it off the GUI thread)."""
    found = [runs.get(store, r) for r in run_ids]
    diff = compared_settings(store, found)
    samples: list[LoadedSample | None] = []
    for run in found:
        last = artifacts.list_for(store, run.id, "sample")[-1:]
        samples.append(load_sample(Path(last[0].path), last[0].step) if last else None)
    return Comparison(found, diff, samples, compared_evals(store, [r.id for r in found]))


def _run_table_page() -> tuple[QTableWidget, QLabel, QWidget]:
    """A tab of the page: a note above a table with a column per run (Config differences, Evaluation
    results), and the page holding them."""
    table = QTableWidget(0, 1)
    table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(24)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    # "run N · experiment", left-aligned and cut at the right: centred, a long name was clipped on
    # both sides and no run id showed.
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setWordWrap(False)  # (wrapped at a '/', a path's first line was cut at its right)
    note = QLabel("")
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(note)
    layout.addWidget(table, 1)
    return table, note, page


def _scrolling(label: QLabel) -> QScrollArea:
    """`label` in a frameless area that scrolls what does not fit (see `CompareView._fill_legend`)."""
    area = QScrollArea()
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(label)
    area.viewport().setAutoFillBackground(False)
    label.setAutoFillBackground(False)
    return area


def _unbroken(text: str) -> str:
    """`text` kept on one line of a wrapping label: Qt broke "run 10 · lora-r16-seq128-packing" at its
    spaces and after its hyphens (a word joiner after each character, no-break spaces)."""
    return WORD_JOINER.join(text.replace(" ", NBSP))


class CompareView(QWidget):
    back = Signal()

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.runs: list[Run] = []
        self.run_ids: list[int] = []
        self._task: Task | None = None
        self._evals_task: Task | None = None
        self._evals_again = False  # an evaluation result arrived while a read was under way
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.back_button = QPushButton("← All runs")
        self.back_button.clicked.connect(self.back.emit)
        self.heading = QLabel("Compare runs")
        self.heading.setObjectName("ViewTitle")
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)  # ten runs, or long experiment names, ran past the window's edge
        top.addWidget(self.back_button)
        top.addWidget(self.heading)
        top.addSpacing(12)
        self.legend_area = _scrolling(self.legend)
        top.addWidget(self.legend_area, 1)
        layout.addLayout(top)
        splitter = QSplitter(Qt.Orientation.Vertical)
        self.charts = ChartPanel()
        splitter.addWidget(self.charts)
        self.tabs = QTabWidget()
        self.diff, self.diff_note, diff_page = _run_table_page()
        self.diff.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # values: base_model paths differ at the end
        self.eval_table, self.eval_note, eval_page = _run_table_page()
        self.eval_note.setWordWrap(True)
        self.samples = QWidget()
        self.samples_layout = QHBoxLayout(self.samples)
        self.tabs.addTab(diff_page, "Config differences")
        self.tabs.addTab(eval_page, "Evaluation results")
        self.tabs.addTab(self.samples, "Samples side by side")
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        for chart in self.charts.charts.values():
            self._style_chart(chart)
        self.charts.chart_added.connect(self._style_chart)  # a further metric's or unit's chart
        layout.addWidget(splitter, 1)
        self.feed = MetricFeed(ctx.model.runs, parent=self)
        self.feed.points.connect(self._on_points)
        ctx.model.poller.polled.connect(self._say_ended)

    @staticmethod
    def _style_chart(chart: LiveChartWidget) -> None:
        chart.set_legend_shown(False)  # the run colours are named above; curves stay uncovered
        chart.plot_widget.setMinimumHeight(110)
        chart.empty_label.setMinimumHeight(110)

    def compare(self, run_ids: list[int]) -> None:
        self.run_ids = [int(r) for r in run_ids]
        known = [self.ctx.model.runs.get(r) for r in self.run_ids]
        self.runs = [r for r in known if r is not None]
        self.charts.clear()
        self.charts.charts["memory"].set_empty_text("No run here reported GPU memory (CPU runs do not)")
        self._fill_legend(known)
        self.diff.setRowCount(0)
        self.diff_note.setText("Reading the runs' settings…")
        self.eval_table.setRowCount(0)
        self.eval_note.setText("Reading the runs' evaluations…")
        store, wanted = self.store, list(self.run_ids)
        task = Task(lambda _ctx: read_comparison(store, wanted), owner=self, name="compare")
        task.signals.succeeded.connect(self._show_comparison)
        task.signals.failed.connect(lambda message, _exc: self.diff_note.setText(f"Could not read the runs: {message}"))
        self._task = self.ctx.tasks.start(task, self.ctx.pool)
        self.feed.watch(self.run_ids)
        self.feed.start()

    def _fill_legend(self, known: list[Run | None]) -> None:
        """One entry a run, each kept whole on a line (its experiment's name cut to LEGEND_NAME_PX), the
        label wrapping between them; the full names are its tooltip."""
        metrics = self.legend.fontMetrics()
        entries, full = [], []
        for i, (run_id, run) in enumerate(zip(self.run_ids, known, strict=True)):
            name = f"run {run_id}" + (f" · {run.experiment}" if run is not None else "")
            full.append(name)
            shown = metrics.elidedText(name, Qt.TextElideMode.ElideRight, LEGEND_NAME_PX)
            entries.append(f'<span style="color:{colour(i)}">■</span>{NBSP}{escape(_unbroken(shown))}{NBSP * 2}')
        key = f'<span style="color:gray">{_unbroken("solid: training · dashed: evaluation")}</span>'
        self.legend.setText(" ".join([*entries, key]))
        self.legend.setToolTip("\n".join(full))
        # At most LEGEND_LINES lines, the rest scrolled: the names of 50 runs took 14 lines and pushed
        # the charts half way down the window. (Measured now: the style sheet's font is applied by now.)
        self.legend.ensurePolished()
        margins = self.legend.contentsMargins()
        self.legend_area.setMaximumHeight(LEGEND_LINES * self.legend.fontMetrics().height()
                                          + margins.top() + margins.bottom())

    def _say_ended(self, _polled: object = None) -> None:
        """Once every compared run has ended and its points are read, the empty charts say none will come
        ("No points yet" under a completed run's Learning rate waited for ever)."""
        known = [self.ctx.model.runs.get(r) for r in self.run_ids]
        if known:
            ended = all(r is not None and r.status.is_finished for r in known) and not self.feed.busy
            self.charts.run_ended(ended, runs=len(known))

    def _on_points(self, batch: MetricBatch) -> None:
        index = self.run_ids.index(batch.run_id) if batch.run_id in self.run_ids else 0
        if any(k.startswith(METRIC_PREFIX) for k in batch.series):  # mixes evaluation data: see the tab
            series = {k: v for k, v in batch.series.items() if not k.startswith(METRIC_PREFIX)}
            batch = MetricBatch(batch.run_id, batch.last_id, batch.full, series, batch.after_id)
            self._reread_evals()  # an evaluation completed: its result joins the tab
        self.charts.add_batch(batch, prefix=f"run {batch.run_id} ", colour=colour(index))

    def _show_comparison(self, found: Comparison) -> None:
        if [r.id for r in found.runs] != self.run_ids:
            return  # another comparison was asked for meanwhile
        self.runs = found.runs
        recipes = {r.recipe for r in found.runs}
        if len(recipes) == 1:  # as one run's page: its work unit, and where eval_loss alone is drawn
            self.charts.expect_recipe(recipes.pop())
        self._fill_diff(found.diff)
        self._fill_evals(found.evals)
        self._fill_samples(found.samples)
        self._read_again(other=self._evals_task)

    def _run_columns(self, table: QTableWidget, first: str) -> None:
        """`table`'s header: `first`, then a column per run ("run 3 · tickets")."""
        table.setColumnCount(1 + len(self.runs))
        table.setHorizontalHeaderItem(0, QTableWidgetItem(first))
        for col, run in enumerate(self.runs, start=1):
            item = QTableWidgetItem(f"run {run.id} · {run.experiment}")
            item.setToolTip(item.text())
            table.setHorizontalHeaderItem(col, item)

    def _fill_diff(self, diff: list[SettingRow]) -> None:
        self._run_columns(self.diff, "Setting")
        self.diff.setRowCount(len(diff))
        for row, setting in enumerate(diff):
            self.diff.setItem(row, 0, QTableWidgetItem(setting.key))
            for col, text in enumerate(setting.texts, start=1):
                item = QTableWidgetItem(text)
                item.setToolTip(item.text())
                self.diff.setItem(row, col, item)
        self.diff_note.setText(("1 setting differs" if len(diff) == 1 else f"{len(diff)} settings differ") if diff else
                               "These runs use the same settings.")

    def _reread_evals(self) -> None:
        # A read under way may have passed the new result already (an evaluation ending during the
        # page's first read joined the tab only when the page was opened again): read again after it.
        if pending(self._task) or pending(self._evals_task):
            self._evals_again = True
            return
        self._read_evals()

    def _read_evals(self) -> None:
        self._evals_again = False
        store, wanted = self.store, list(self.run_ids)
        task = Task(lambda _ctx: compared_evals(store, wanted), owner=self, name="compare evaluations")
        task.signals.succeeded.connect(lambda rows: self._evals_read(rows, wanted))
        self._evals_task = self.ctx.tasks.start(task, self.ctx.pool)

    def _evals_read(self, rows: list[EvalRow], wanted: list[int]) -> None:
        if self.run_ids == wanted:
            self._fill_evals(rows)
        self._read_again(other=self._task)

    def _read_again(self, other: Task | None) -> None:
        """After a read's answer (the read itself still pending until this returns): the evaluations
        once more if a result arrived while it ran and no other read is under way to see it."""
        if self._evals_again and not pending(other):
            self._read_evals()

    def _fill_evals(self, rows: list[EvalRow]) -> None:
        """A row per evaluation metric and data ("classification_accuracy on heldout.jsonl"), each run's
        last value on it by step, "-" where a run was not evaluated on that data."""
        self._run_columns(self.eval_table, "Evaluation (last by step)")
        self.eval_table.setRowCount(len(rows))
        for row, result in enumerate(rows):
            title = QTableWidgetItem(result.title)
            title.setToolTip(f"{result.key} on {result.data.path}")
            self.eval_table.setItem(row, 0, title)
            for col, (value, step) in enumerate(zip(result.values, result.steps, strict=True), start=1):
                item = QTableWidgetItem("-" if value is None else f"{value:.4g}")
                item.setToolTip("not evaluated on this data" if value is None else f"{value} at step {step}")
                self.eval_table.setItem(row, col, item)
        data = list(dict.fromkeys(r.data.name for r in rows))
        self.eval_note.setText(
            f"Results on {len(data)} evaluation data ({', '.join(data)}), each run's last by step; not drawn "
            "above, where one curve would mix them." if rows else "No run here has been evaluated.")
        chart = self.charts.charts["eval"]
        if rows and chart.empty_text in (NO_POINTS_YET, NO_POINTS_ENDED, NO_POINTS_ENDED_ALL):
            chart.set_empty_text("Evaluation results are per evaluation data: "
                                                      "see the Evaluation results tab")

    def _fill_samples(self, samples: list[LoadedSample | None]) -> None:
        """Each run's last sample in a column of its colour: prompts and outputs, or a diffusion or
        image-classification run's images (they were shown as "[image step-….png]" text)."""
        clear_layout(self.samples_layout)
        for i, (run, sample) in enumerate(zip(self.runs, samples, strict=True)):
            column = QWidget()
            column.setObjectName("CompareSample")
            column.setStyleSheet(f"#CompareSample {{ border-top: 3px solid {colour(i)}; }}")
            inner = QVBoxLayout(column)
            inner.addWidget(QLabel(f"<b>run {run.id}</b> · {run.experiment}" if sample else
                                   f"<b>run {run.id}</b>: no samples"))
            if sample is not None:
                inner.addWidget(sample_widget(sample))
            inner.addStretch(1)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(column)
            self.samples_layout.addWidget(scroll)

    def stop(self) -> None:
        self.feed.stop()

    def busy(self) -> bool:
        return self.feed.busy or pending(self._task) or pending(self._evals_task)
