"""GPUs: a live panel per GPU (utilisation, memory, temperature, power) and which run holds it.

Samples come from the shared GpuMonitor (NVML, polled off the GUI thread). Without an NVIDIA GPU the
view says so in plain words, the library's reason in a tooltip. pyqtgraph is imported here, not at start-up.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QStackedWidget, QVBoxLayout, QWidget

from app import theme
from app.context import AppContext
from app.gpu_monitor import GpuHistory
from app.views.base import BaseView
from app.widgets import EmptyState, MessageBanner
from spark_trainer.gpu import GpuInfo
from spark_trainer.jobs.gpus import holders
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

# (history field, title, unit, fixed y maximum or None for "from the GPU")
SERIES = (
    ("utilization", "Utilisation", "%", 100.0),
    ("memory_gb", "Memory", "GiB", None),
    ("temperature", "Temperature", "°C", 100.0),
    ("power", "Power", "W", None),
)


class GpuPanel(QFrame):
    """One GPU: a header line, who holds it, and four small live charts."""

    def __init__(self, gpu: GpuInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.index = gpu.index
        layout = QVBoxLayout(self)
        self.header = QLabel("")
        self.header.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.holder = QLabel("")
        self.holder.setObjectName("Muted")
        layout.addWidget(self.header)
        layout.addWidget(self.holder)
        grid = QGridLayout()
        self.plots: dict[str, pg.PlotWidget] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for column, (key, title, unit, _ymax) in enumerate(SERIES):
            plot = pg.PlotWidget()
            plot.setMinimumHeight(150)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            plot.setTitle(f"{title} ({unit})")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setLabel("bottom", "seconds ago")
            self.plots[key] = plot
            self.curves[key] = plot.plot([], [])
            grid.addWidget(plot, 0, column)
        layout.addLayout(grid)
        self.style_plots()

    def style_plots(self) -> None:
        t = theme.current()
        for plot in self.plots.values():
            plot.setBackground(t.plot_bg)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setPen(pg.mkPen(t.plot_fg))
                plot.getAxis(axis).setTextPen(pg.mkPen(t.plot_fg))
            plot.getPlotItem().titleLabel.setText(plot.getPlotItem().titleLabel.text, color=t.plot_fg)
        for curve in self.curves.values():
            curve.setPen(pg.mkPen(t.accent, width=2))

    def update_sample(self, gpu: GpuInfo, history: GpuHistory | None, held_by: list[Run]) -> None:
        used, total = gpu.memory_used / 1024**3, gpu.memory_total / 1024**3
        parts = [f"GPU {gpu.index} · {gpu.name}", f"{used:.1f} / {total:.0f} GiB"]
        if gpu.utilization is not None:
            parts.append(f"{gpu.utilization}% busy")
        if gpu.temperature is not None:
            parts.append(f"{gpu.temperature} °C")
        if gpu.power_watts is not None:
            parts.append(f"{gpu.power_watts:.0f} W")
        self.header.setText("  ·  ".join(parts[:1]) + "    " + "  ·  ".join(parts[1:]))
        if held_by:
            self.holder.setText("Held by " + ", ".join(
                f"run {r.id} ({r.experiment}, {r.status.value}, step {r.step})" for r in held_by))
        else:
            self.holder.setText("Free: no run holds this GPU")
        if history is None or not history.t:
            return
        now = history.t[-1]
        xs = [t - now for t in history.t]
        for key, _title, _unit, ymax in SERIES:
            ys = list(getattr(history, key))
            self.curves[key].setData(xs, ys, connect="finite")
            top = ymax if ymax is not None else (total if key == "memory_gb" else _nice_max(ys))
            self.plots[key].setYRange(0, top, padding=0.02)
            self.plots[key].setXRange(min(xs[0], -60.0), 0, padding=0)


def _nice_max(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return max(50.0, max(finite) * 1.2) if finite else 100.0


class GpusView(BaseView):
    title = "GPUs"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.banner = MessageBanner()
        self.body.addWidget(self.banner)
        self.panels: dict[int, GpuPanel] = {}
        self.summary = QLabel("")
        self.summary.setObjectName("Muted")
        self.body.addWidget(self.summary)
        self.pages = QStackedWidget()
        self.waiting = EmptyState("Looking for GPUs…", "Asking the NVIDIA driver (NVML).")
        self.empty = EmptyState("No NVIDIA GPU found", "")
        self.cpu_runs = QLabel("")
        self.cpu_runs.setObjectName("Muted")
        self.cpu_runs.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.layout().insertWidget(3, self.cpu_runs)
        container = QWidget()
        self.panel_layout = QVBoxLayout(container)
        self.panel_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(container)
        self.scroll = scroll
        for page in (self.waiting, self.empty, scroll):
            self.pages.addWidget(page)
        self.body.addWidget(self.pages, 1)
        ctx.gpu_monitor.sampled.connect(self._on_sample)
        ctx.model.runs.runs_updated.connect(self._on_runs)  # who holds which GPU
        self.refresh()

    def _active_runs(self) -> list[Run]:
        """Runs holding GPUs, from the app model (no store read per sample)."""
        wanted = {*runs.ACTIVE, RunStatus.PAUSED}
        return [r for r in reversed(self.ctx.model.runs.all_runs()) if r.status in wanted]

    def refresh(self) -> None:
        self._on_sample(self.ctx.gpu_monitor.gpus)

    def _on_runs(self, _runs: list) -> None:
        self.refresh()

    def _on_sample(self, gpus: list[GpuInfo]) -> None:
        monitor = self.ctx.gpu_monitor
        if not monitor.has_sampled:
            self.pages.setCurrentWidget(self.waiting)
            return
        active = [r for r in self._active_runs() if r.status.is_active]
        if not gpus:
            self._show_empty(monitor.nvml_note, active)
            return
        held = holders(active)
        for gpu in gpus:
            panel = self.panels.get(gpu.index)
            if panel is None:
                panel = GpuPanel(gpu)
                self.panels[gpu.index] = panel
                self.panel_layout.insertWidget(self.panel_layout.count() - 1, panel)
            panel.update_sample(gpu, monitor.history.get(gpu.index), held.get(gpu.index, []))
        busy = sum(1 for g in gpus if held.get(g.index))
        self.summary.setText(f"{len(gpus)} GPU(s), {busy} in use by runs · sampled every 2 s through NVML")
        self.pages.setCurrentWidget(self.scroll)

    def _show_empty(self, note: str, active: list[Run]) -> None:
        # `note` is the library's reason ("NVML unavailable (NVML Shared Library Not Found)"): a user
        # reads what it means, the reason is in the tooltip (and in `spark-trainer doctor`).
        driver = note.startswith("NVIDIA driver")
        found = "The NVIDIA driver on this machine sees no GPU" if driver else "No NVIDIA driver was found on this machine"
        self.empty.text.setText(
            f"{found}, so training runs on the CPU (small models, slowly): runs started with GPUs set to "
            "'auto' or 'cpu' use it." + ("" if driver else "\nInstall the NVIDIA driver to train on a GPU.")
        )
        self.empty.text.setToolTip(f"What the NVIDIA library said: {note}" if note else "")
        cpu = [r for r in active if not r.gpus]
        self.cpu_runs.setText(
            ("Runs on the CPU now: " + ", ".join(f"run {r.id} ({r.experiment}, step {r.step})" for r in cpu))
            if cpu else "No run is using the CPU right now."
        )
        self.summary.setText("")
        self.pages.setCurrentWidget(self.empty)

    def on_theme_changed(self) -> None:
        for panel in self.panels.values():
            panel.style_plots()
