"""The grid of live charts a run (or a comparison of runs) shows, and which chart each metric goes on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timezone
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.charts.colours import colour as palette_colour
from app.charts.colours import key_colour
from app.charts.feed import MetricBatch
from app.charts.live_chart import LiveChartWidget
from spark_trainer.evaluation.tasks import METRIC_PREFIX, metric_key
from spark_trainer.recipes.registry import ENGINE_METRICS

CHARTS = (("loss", "Loss"), ("lr", "Learning rate"), ("throughput", "Throughput"),
          ("memory", "GPU memory (GiB)"), ("eval", "Evaluation metrics"), ("grad", "Gradient norm"))
# Counts logged only at the steps where they grow (a skipped step): like evaluations, never smoothed,
# a marker on every point.
EVENT_COUNTS = ("skipped_steps",)
# Charts drawn as logged whatever the slider says: a learning-rate schedule has no noise to smooth, and
# smoothing it only drew it late (a cosine ending at 0 ended at a tenth of its peak).
UNSMOOTHED_CHARTS = ("lr",)
# Derived bookkeeping values: kept in the store (and `run metrics`), not worth a curve.
NOT_CHARTED = ("epoch", "samples_per_s", "tokens", "examples", "images", "packing_efficiency")


def is_evaluation(key: str) -> bool:
    """A metric measured on held-out data now and then (drawn unsmoothed, with markers, dashed):
    the run's own evaluations, and `spark-trainer eval`'s results (evals/..., often one point)."""
    return key.lower().startswith(("eval_", "val_", "evals/"))


# Words of a metric measured as a fraction, 0 to 1 (accuracy, F1...): its axis ends at 1.0.
FRACTION_WORDS = ("accuracy", "f1", "precision", "recall", "auc")


def bounds_of(key: str) -> tuple[float, float] | None:
    """The values metric `key` can take: (0, 1) for an accuracy-like one, else None (any)."""
    k = key.lower()
    return (0.0, 1.0) if chart_for(key) == "eval" and any(w in k for w in FRACTION_WORDS) else None


def chart_for(key: str) -> str | None:
    """Which chart a metric key belongs on (None: not charted)."""
    k = key.lower()
    if k in NOT_CHARTED:
        return None
    if k in ("loss", "eval_loss", "train_loss", "val_loss"):
        return "loss"
    if k in ("lr", "learning_rate"):
        return "lr"
    if "per_s" in k or "throughput" in k:
        return "throughput"
    if "mem" in k:
        return "memory"
    if "grad_norm" in k:
        return "grad"
    return "eval"


def title_for(key: str) -> str:
    """The title of a chart of its own: an engine metric's (e.g. skipped_steps, only logged when a step
    is skipped) says what it is; anything else is an evaluation metric."""
    spec = next((m for m in ENGINE_METRICS if m.key == key), None)
    if spec is None or is_evaluation(key):
        return f"Evaluation: {key}"
    return spec.label[:1].upper() + spec.label[1:]


# (metric key, evaluation data as shown) -> step -> (time, value): one curve of `spark-trainer eval`'s results.
EvalCurves = dict[tuple[str, str], dict[int, tuple[float, float]]]


def evaluation_curves(found: Iterable[Any], names: Mapping[str, str]) -> EvalCurves:
    """The points of `spark-trainer eval`'s results (`found`: a run's evaluations; `names`: what each one's
    data is called), one curve per metric and evaluation data, a point per checkpoint step evaluated (the
    newest evaluation at a step). Base-model evaluations put no point on the run."""
    curves: EvalCurves = {}
    for ev in sorted(found, key=lambda e: e.id):
        if ev.status != "completed" or ev.base:
            continue
        when = ev.finished_at or ev.created_at
        seconds = when.replace(tzinfo=timezone.utc).timestamp()
        data = names.get(ev.data_path) or ev.data_path
        for name, value in (ev.result or {}).get("metrics", {}).items():
            # At the step the worker logged it at (`step or 0`), as the run metric has it.
            curves.setdefault((metric_key(ev.task, name), data), {})[ev.step or 0] = (seconds, float(value))
    return curves


# The charts whose metrics differ in scale or unit between recipes: each evaluation metric and each
# throughput unit gets a chart of its own (see ChartPanel.chart_of).
SPLIT = ("eval", "throughput")
NO_POINTS_YET = "No points yet"
NO_POINTS_ENDED = "No points: the run ended without logging any"
NO_POINTS_ENDED_ALL = "No points: these runs ended without logging any"  # the compare page


def unit_of(key: str) -> str:
    """The work rate's unit: 'tokens/s' for tokens_per_s."""
    return f"{key.lower().removesuffix('_per_s')}/s"


def group_of(key: str) -> tuple[str, str] | None:
    """(base chart, group within it) of a metric key: metrics of one group share an axis."""
    name = chart_for(key)
    if name == "eval":
        return name, key.lower()
    if name == "throughput":
        return name, unit_of(key)
    return None if name is None else (name, name)


class ChartPanel(QWidget):
    """A grid of live charts with shared smoothing, scale and axis controls.

    Six charts always (loss, learning rate, throughput, memory, evaluation, gradient norm). The first
    evaluation metric and the first throughput unit take the Evaluation and Throughput charts; each
    further one gets a chart of its own, added to the grid: comparing a classifier with a language
    model puts accuracy (0-1) and perplexity (~200) on separate axes, never one flattened at 0."""

    chart_added = Signal(object)  # a LiveChartWidget added for a further metric or unit
    # A batch brought `spark-trainer eval` results (evals/...): the owner reads the run's evaluations and
    # hands them to `show_evaluations`, which draws them (never from the batch: see there).
    evaluated = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setMaximumWidth(180)
        self.smoothing.setToolTip("Exponential moving average weight, like TensorBoard's slider")
        self.smoothing_value = QLabel("0.60")
        self.log_scale = QCheckBox("Log scale")
        self.x_axis = QComboBox()
        self.x_axis.addItems(["step", "time"])
        self.x_axis.setToolTip("X axis: optimizer step, or seconds since the run's first point")
        for widget in (self.smoothing, self.smoothing_value, self.log_scale, QLabel("X axis"), self.x_axis):
            controls.addWidget(widget)
        controls.addStretch(1)
        layout.addLayout(controls)
        self.grid = QGridLayout()
        layout.addLayout(self.grid, 1)
        self.charts: dict[str, LiveChartWidget] = {}
        self._rows = 0  # rows of charts laid out (0: not yet)
        for name, title in CHARTS:
            self._add_chart(name, title)
        self._groups: dict[tuple[str, str], str] = {}  # (base chart, group) -> name of its chart
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_scale.toggled.connect(lambda on: [c.set_log_y(on) for c in self.charts.values()])
        self.x_axis.currentTextChanged.connect(lambda axis: [c.set_x_axis(axis) for c in self.charts.values()])
        self._on_smoothing(self.smoothing.value())

    def _add_chart(self, name: str, title: str) -> LiveChartWidget:
        chart = LiveChartWidget(title)
        self.charts[name] = chart
        self._lay_out()
        return chart

    def _rows_that_fit(self) -> int:
        """Three rows of charts where they fit at their least height, else fewer, wider rows: three rows
        in a 1024 x 640 window's run page were drawn 115 px high in 160, their step axes cut off."""
        chart = next(iter(self.charts.values()), None)
        if chart is None or not self.isVisible():
            return self._rows or 3
        room = self.height() - self.grid.geometry().top() - self.layout().contentsMargins().bottom()
        per_row = chart.minimumSizeHint().height() + self.grid.verticalSpacing()
        return max(1, min(3, (room + self.grid.verticalSpacing()) // per_row))

    def _lay_out(self) -> None:
        """The charts in `_rows_that_fit` rows, in as many columns as they need (two for the six charts)."""
        self._rows = self._rows_that_fit()
        columns = max(2, -(-len(self.charts) // self._rows))
        for column in range(max(columns, self.grid.columnCount())):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)
        for chart in self.charts.values():
            self.grid.removeWidget(chart)  # (a no-op for a new chart) not placed twice
        for index, chart in enumerate(self.charts.values()):
            self.grid.addWidget(chart, index // columns, index % columns)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_rows()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name: resized while hidden
        super().showEvent(event)
        self._fit_rows()

    def _fit_rows(self) -> None:
        if self._rows_that_fit() != self._rows:
            self._lay_out()

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        for name, chart in self.charts.items():
            chart.set_smoothing(0.0 if name in UNSMOOTHED_CHARTS else value / 100)

    def clear(self) -> None:
        for name in [n for n in self.charts if n not in dict(CHARTS)]:  # a further metric's chart
            chart = self.charts.pop(name)
            self.grid.removeWidget(chart)
            chart.hide()
            chart.deleteLater()
        self._lay_out()
        for chart in self.charts.values():
            chart.clear()
        self._groups = {}
        for name in SPLIT:  # nothing of the last run's recipe stays
            self.charts[name].set_title(dict(CHARTS)[name])
            self.charts[name].set_bounds(None)
        self.charts["eval"].set_empty_text(NO_POINTS_YET)

    def run_ended(self, ended: bool, *, runs: int = 1) -> None:
        """The empty charts of a run that has ended (of `runs` runs that all have) say it will log nothing
        more ("No points yet" on a run that failed before its first log waited for points that never
        come); their own words (no GPU memory on a CPU run, where a recipe's metric is drawn) stay."""
        said = NO_POINTS_ENDED if runs == 1 else NO_POINTS_ENDED_ALL
        for chart in self.charts.values():
            if chart.empty_text in (NO_POINTS_YET, NO_POINTS_ENDED, NO_POINTS_ENDED_ALL):
                chart.set_empty_text(said if ended else NO_POINTS_YET)

    @property
    def eval_keys(self) -> list[str]:
        return [group for base, group in self._groups if base == "eval"]

    @property
    def units(self) -> list[str]:
        """Throughput units charted (tokens/s, images/s...)."""
        return [group for base, group in self._groups if base == "throughput"]

    def expect_recipe(self, recipe: str) -> None:
        """Name what a run of `recipe` will chart before its first point: its work unit, and where its
        evaluation metrics go when eval_loss (on the Loss chart) is the only one."""
        from spark_trainer.errors import BadInput
        from spark_trainer.recipes.registry import get_recipe

        try:
            spec = get_recipe(recipe)
        except BadInput:  # a run of a recipe this version does not know: the keys will say
            return
        self.charts["throughput"].set_title(f"Throughput ({spec.unit}/s)")
        if all(chart_for(m.key) != "eval" for m in spec.metrics):
            keys = ", ".join(m.key for m in spec.metrics)
            self.charts["eval"].set_empty_text(f"This recipe's evaluation metric ({keys}) is on the Loss chart")

    def chart_of(self, key: str) -> LiveChartWidget | None:
        """The chart metric `key` is drawn on (None: not charted, or no point of it yet)."""
        group = group_of(key)
        if group is None:
            return None
        name = self._groups.get(group) if group[0] in SPLIT else group[0]
        return None if name is None else self.charts[name]

    def _chart_for_key(self, key: str) -> LiveChartWidget | None:
        """The chart for `key`, the Evaluation or Throughput chart taken, or one added, for a new group."""
        group = group_of(key)
        if group is None or group[0] not in SPLIT:
            return None if group is None else self.charts[group[0]]
        name = self._groups.get(group)
        if name is None:
            base, within = group
            taken = any(b == base for b, _ in self._groups)
            name = f"{base}:{within}" if taken else base
            self._groups[group] = name
            title = title_for(key) if base == "eval" else f"Throughput ({within})"
            if taken:
                chart = self._add_chart(name, title)
                chart.set_smoothing(self.smoothing.value() / 100)
                chart.set_log_y(self.log_scale.isChecked())
                chart.set_x_axis(self.x_axis.currentText())
                self.chart_added.emit(chart)
            else:
                self.charts[name].set_title(title)
            self.charts[name].set_bounds(bounds_of(key))
        return self.charts[name]

    def add_batch(self, batch: MetricBatch, prefix: str = "", colour: str | None = None) -> None:
        touched = set()
        evaluated = False
        for key, (steps, times, values) in batch.series.items():
            if key.startswith(METRIC_PREFIX):  # drawn per evaluation data by show_evaluations
                evaluated = True
                continue
            chart = self._chart_for_key(key)
            if chart is None:
                continue
            evaluation = is_evaluation(key)
            chart.append(f"{prefix}{key}", steps, times, values, pen_colour=colour or key_colour(key),
                         dashed=evaluation, evaluation=evaluation or key in EVENT_COUNTS)
            touched.add(chart)
        for chart in touched:
            chart.refresh()
        if evaluated:
            self.evaluated.emit()

    def show_evaluations(self, found: Iterable[Any], names: Mapping[str, str]) -> None:
        """Draw `spark-trainer eval`'s results (a run's evaluations, and what each one's data is called): a
        curve per metric and evaluation data, named for the data (each metric has a chart of its own, titled
        with it). The run metric evals/... holds every data's results, so drawn as logged one line joined a
        score on one file to a score on another."""
        curves = evaluation_curves(found, names)
        datas = sorted({data for _key, data in curves})
        touched: dict[LiveChartWidget, str] = {}  # chart -> its metric
        for (key, data), points in sorted(curves.items()):  # the keys of a chart come together
            chart = self._chart_for_key(key)
            steps = sorted(points)
            chart.append(data, steps, [points[s][0] for s in steps], [points[s][1] for s in steps],
                         pen_colour=palette_colour(datas.index(data)), dashed=True, evaluation=True)
            touched[chart] = key
        for chart, key in touched.items():
            if len(chart.curve_names()) == 1:  # no legend for one curve: the title names its data
                chart.set_title(f"{title_for(key)} on {chart.curve_names()[0]}")
            chart.refresh()

    def point_count(self, key: str) -> int:
        return sum(chart.point_count(key) for chart in self.charts.values() if key in chart.curve_names())
