"""The grid of live charts a run (or a comparison of runs) shows, and which chart each metric goes on."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.charts.feed import MetricBatch
from app.charts.live_chart import LiveChartWidget

CHARTS = (("loss", "Loss"), ("lr", "Learning rate"), ("throughput", "Throughput"),
          ("memory", "GPU memory (GiB)"), ("eval", "Evaluation metrics"), ("grad", "Gradient norm"))
# Derived bookkeeping values: kept in the store (and `run metrics`), not worth a curve.
NOT_CHARTED = ("epoch", "samples_per_s", "tokens", "examples", "images", "packing_efficiency")


def is_evaluation(key: str) -> bool:
    """A metric measured on held-out data now and then (drawn unsmoothed, with markers, dashed)."""
    return key.lower().startswith(("eval_", "val_"))


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


class ChartPanel(QWidget):
    """A grid of live charts with shared smoothing, scale and axis controls."""

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
        grid = QGridLayout()
        layout.addLayout(grid, 1)
        self.charts: dict[str, LiveChartWidget] = {}
        for i, (name, title) in enumerate(CHARTS):
            chart = LiveChartWidget(title)
            self.charts[name] = chart
            grid.addWidget(chart, i // 2, i % 2)
        self.eval_keys: list[str] = []
        self.units: list[str] = []  # throughput units charted (tokens/s, images/s...)
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_scale.toggled.connect(lambda on: [c.set_log_y(on) for c in self.charts.values()])
        self.x_axis.currentTextChanged.connect(lambda axis: [c.set_x_axis(axis) for c in self.charts.values()])
        self._on_smoothing(self.smoothing.value())

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        for chart in self.charts.values():
            chart.set_smoothing(value / 100)

    def clear(self) -> None:
        for chart in self.charts.values():
            chart.clear()
        self.eval_keys = []
        self.units = []
        for name in ("eval", "throughput"):  # nothing of the last run's recipe stays
            self.charts[name].set_title(dict(CHARTS)[name])
        self.charts["eval"].set_empty_text("No points yet")

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

    def add_batch(self, batch: MetricBatch, prefix: str = "", colour: str | None = None) -> None:
        touched = set()
        for key, (steps, times, values) in batch.series.items():
            name = chart_for(key)
            if name is None:
                continue
            unit = f"{key.removesuffix('_per_s')}/s"
            if name == "throughput" and key != "samples_per_s" and unit not in self.units:
                self.units.append(unit)  # the recipe's own unit: tokens, images... (two when comparing recipes)
                self.charts[name].set_title(f"Throughput ({', '.join(self.units)})")
            if name == "eval" and key not in self.eval_keys:  # say which metrics, legend or not
                self.eval_keys.append(key)
                self.charts["eval"].set_title("Evaluation: " + ", ".join(self.eval_keys))
            evaluation = is_evaluation(key)
            self.charts[name].append(f"{prefix}{key}", steps, times, values, pen_colour=colour, dashed=evaluation,
                                     evaluation=evaluation)
            touched.add(name)
        for name in touched:
            self.charts[name].refresh()

    def point_count(self, key: str) -> int:
        return sum(chart.point_count(key) for chart in self.charts.values() if key in chart.curve_names())
