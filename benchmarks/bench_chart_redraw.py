"""Chart redraw cost with 4 series x 1,000,000 points plus live appends at 10 Hz, offscreen.

Measures the run view's own chart panel (`app.charts.panel.ChartPanel`, its loss chart, with the
panel's default smoothing 0.6 unless a row says otherwise), fed the way the compare view feeds it
(one `add_batch` per run, which refreshes the chart), then one paint of the chart per update. Beside
it, in the same process on the same data: the same chart smoothing every whole series again on each
update (the full-recompute path); the previous drawing path (pyqtgraph's own clip-to-view and peak
downsampling over the whole envelope, plain auto-range, the faint raw curve handed over on every
update), kept here as a baseline and updated interleaved with the live chart; and a naive chart that
concatenates arrays and calls setData on plain curves. The two slow baselines run after, each alone. The goal (issue 16) is under 16 ms median and 50 ms max per update with the app's
default smoothing, 0.6. Then measures the latency from a metric written by a worker process to the
store until it is drawn in the chart (through `MetricFeed`).

Wall-clock times depend on what else the machine runs; CPU times (this process's) much less so:
quote both, with the load average printed at the start and end.

Run: .venv/bin/python benchmarks/bench_chart_redraw.py [--points 1000000] [--updates 50]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SERIES = 4
APPEND = 10  # points per series per update
PERIOD_S = 0.1  # 10 Hz


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=float)
    values = 2.5 * np.exp(-steps / (n / 4)) + 0.1 * rng.standard_normal(n) + 0.5
    return steps, steps * 0.05, values


def render(widget) -> float:
    """Time to paint the widget offscreen (what a screen refresh costs)."""
    started = time.perf_counter()
    widget.grab()
    return (time.perf_counter() - started) * 1000


class NaiveChart:
    def __init__(self, smoothing: float | None = None) -> None:  # draws raw points only
        self.widget = pg.PlotWidget()
        self.curves = [self.widget.plot(pen=pg.intColor(i)) for i in range(SERIES)]
        self.x = [np.empty(0) for _ in range(SERIES)]
        self.y = [np.empty(0) for _ in range(SERIES)]

    def append(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        self.x[i] = np.concatenate([self.x[i], x])
        self.y[i] = np.concatenate([self.y[i], y])

    def refresh(self) -> None:
        for i, curve in enumerate(self.curves):
            curve.setData(self.x[i], self.y[i])


class LiveChart:
    """The run view's chart panel; its loss chart gets one series per run, like the compare view's."""

    def __init__(self, smoothing: float | None = None) -> None:
        from app.charts.panel import ChartPanel

        self.panel = ChartPanel()
        if smoothing is not None:  # else the panel's default (0.6)
            self.panel.smoothing.setValue(round(smoothing * 100))
        self.window = self.panel
        self.widget = self.panel.charts["loss"]
        self.names = [f"run {i + 1} loss" for i in range(SERIES)]

    def append(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        from app.charts.feed import MetricBatch
        from app.charts.live_chart import colour

        batch = MetricBatch(run_id=i + 1, last_id=0, full=False, series={"loss": (x, x * 0.05, y)})
        self.panel.add_batch(batch, prefix=f"run {i + 1} ", colour=colour(i))  # refreshes the loss chart

    def refresh(self) -> None:
        pass  # add_batch refreshed the chart


class FullRecomputeChart(LiveChart):
    """The live chart, but each update smooths every whole series again and re-indexes its smoothed
    envelope, as a chart that does not keep the EMA's state would."""

    def append(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        series = self.widget.series(self.names[i]) if self.names[i] in self.widget.curve_names() else None
        if series is not None:
            weight = series.smoothing
            series.set_smoothing(0.0)
            series.set_smoothing(weight)  # from the first point
        super().append(i, x, y)


class PreviousChart(LiveChart):
    """The chart as drawn before: pyqtgraph clips to the view and peak-downsamples the whole envelope on
    every setData and every view-range change, plain pyqtgraph auto-range, both curves of a smoothed
    series handed over on every update."""

    def __init__(self, smoothing: float | None = None) -> None:
        super().__init__(smoothing)
        chart = self.widget
        box = chart.plot.getViewBox()
        box.setRange = types.MethodType(pg.ViewBox.setRange, box)  # no sub-pixel skipping
        box.sigXRangeChanged.disconnect(chart._on_x_range)
        box.sigResized.disconnect(chart.redraw)
        new_curve = chart._curve

        def curve(*args, **kwargs):
            fresh = args[0] not in chart.curve_names()
            made = new_curve(*args, **kwargs)
            if fresh:
                for item, factor in ((made.raw, 1.0), (made.shadow, 0.33)):
                    item.opts["autoDownsampleFactor"] = factor
                    item.setDynamicRangeLimit(1e6)
                    item.setClipToView(True)
                    item.setDownsampling(auto=True, method="peak")
            return made

        chart._curve = curve
        chart.refresh = types.MethodType(_previous_refresh, chart)


def _previous_refresh(chart) -> None:
    from app.charts.live_chart import ENVELOPE_ABOVE

    def draw(item, series, smoothed: bool) -> None:
        x, y = series.x(chart._x_axis), series.y(smoothed)
        n = len(x)
        box = chart.plot.getViewBox()
        if n <= ENVELOPE_ABOVE:
            item.setData(x, y)
            return
        if box.autoRangeEnabled()[0]:
            lo, hi = 0, n
        else:
            left, right = box.viewRange()[0]
            lo, hi = int(np.searchsorted(x, left)), int(np.searchsorted(x, right))
        visible = hi - lo
        if visible > ENVELOPE_ABOVE:
            item.setData(*series.envelope_xy(chart._x_axis, smoothed))
        else:
            lo, hi = max(0, lo - visible - 2), min(n, hi + visible + 2)
            item.setData(x[lo:hi], y[lo:hi])

    for curve in chart._curves.values():
        if not curve.dirty:
            continue
        curve.dirty = False
        if curve.smoothed:
            draw(curve.raw, curve.series, True)
            draw(curve.shadow, curve.series, False)
            curve.shadow.show()
        else:
            draw(curve.raw, curve.series, False)
            curve.shadow.hide()
    empty = chart.point_count() == 0
    chart.empty_label.setVisible(empty)
    chart.plot_widget.setVisible(not empty)


def window_of(chart):
    return getattr(chart, "window", chart.widget)


def prepare(chart, n: int, app: QApplication) -> None:
    """Load every series' first n points and show the chart about 1000 x 500 pixels (the panel's loss chart
    1000 x 480: its grid rows share the height)."""
    window = window_of(chart)
    window.resize(1000, 500)
    window.show()
    for i in range(SERIES):
        steps, _times, values = data(n, i)
        chart.append(i, steps, values)
    chart.refresh()
    app.processEvents()
    for _ in range(12):  # the panel: resized until its loss chart (the one with points) is 1000 x 500
        if chart.widget.size().toTuple() == (1000, 500):
            break
        window.resize(window.width() + 1000 - chart.widget.width(), window.height() + 500 - chart.widget.height())
        app.processEvents()
    render(chart.widget)
    app.processEvents()


def update(chart, next_step: int, rng: np.random.Generator) -> tuple[float, float]:
    """One update: APPEND points per series, the chart refreshed, one full offscreen paint of it.
    Returns wall-clock and this process's CPU milliseconds (all its threads: numpy may use several)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(SERIES):
        steps = np.arange(next_step, next_step + APPEND, dtype=float)
        chart.append(i, steps, 0.5 + 0.1 * rng.standard_normal(APPEND))
    chart.refresh()
    chart.widget.grab()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000


def measure(rows: list[tuple[str, object]], n: int, updates: int, app: QApplication) -> dict[str, tuple[list, list]]:
    """Every chart gets the same updates, interleaved (one update of each chart in turn, in alternating
    order), so load from elsewhere falls on all of them alike; 10 Hz per chart."""
    for _name, chart in rows:
        prepare(chart, n, app)
    results: dict[str, tuple[list, list]] = {name: ([], []) for name, _ in rows}
    rng = np.random.default_rng(0)
    next_step = n
    for k in range(updates):
        tick = time.perf_counter()
        seed = int(rng.integers(1 << 31))
        for name, chart in rows if k % 2 == 0 else rows[::-1]:
            wall, cpu = update(chart, next_step, np.random.default_rng(seed))
            results[name][0].append(wall)
            results[name][1].append(cpu)
            app.processEvents()  # untimed: the window's own pending repaint
        next_step += APPEND
        time.sleep(max(0.0, PERIOD_S - (time.perf_counter() - tick)))
    for _name, chart in rows:
        window_of(chart).close()
    return results


def latency(samples: int, app: QApplication) -> list[float]:
    """A separate process writes one metric point every 0.3 s; measure write -> drawn."""
    from app.charts.feed import MetricFeed
    from app.charts.live_chart import LiveChartWidget
    from spark_trainer.store import experiments, projects, runs
    from spark_trainer.store.store import Store

    home = Path(tempfile.mkdtemp(prefix="bench-chart-"))
    store = Store.open(home)
    projects.create(store, "bench")
    experiments.create(store, project="bench", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, "e")
    writer = (
        "import sys, time\n"
        "from spark_trainer.store import metrics\nfrom spark_trainer.store.store import Store\n"
        f"store = Store.open({str(home)!r})\n"
        f"for step in range({samples}):\n"
        f"    metrics.add_batch(store, {run.id}, [('loss', step, 1.0 / (step + 1), time.time())])\n"
        "    time.sleep(0.3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer], env={**os.environ, "PYTHONPATH": os.getcwd()})
    chart = LiveChartWidget("loss")
    chart.show()
    from PySide6.QtCore import QThreadPool

    from app.gpu_monitor import GpuMonitor
    from app.model import AppModel

    pool = QThreadPool()
    model = AppModel(store, pool, GpuMonitor(pool, enabled=False))  # the app's store poller and its interval
    feed = MetricFeed(model.runs)
    lags: list[float] = []

    def on_points(batch) -> None:
        steps, times, values = batch.series["loss"]
        chart.append("loss", steps, times, values)
        chart.refresh()
        chart.grab()
        now = time.time()
        lags.extend((now - t) * 1000 for t in times)

    feed.points.connect(on_points)
    feed.watch([run.id])
    feed.start()
    deadline = time.monotonic() + samples * 0.3 + 20
    while len(lags) < samples and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    feed.stop()
    model.shutdown()
    proc.wait(timeout=30)
    store.close()
    return lags


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<34} median {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms   "
            f"(n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--latency-samples", type=int, default=15, help="0 skips the latency part")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the (slow) naive baseline")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    print(f"{SERIES} series x {args.points:,} points, +{APPEND} points per series per update at 10 Hz, "
          f"{args.updates} updates, offscreen ({QApplication.platformName()})")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (CPU ms is this process's own "
          "time, less sensitive to other load)")
    # The live chart and the previous drawing path are interleaved; the far slower baselines run after,
    # each alone (interleaved, their memory traffic would slow the charts updated next to them).
    groups = [[("live chart, smoothing off", LiveChart), ("live chart, smoothing 0.6", LiveChart),
               ("previous drawing, smoothing 0.6", PreviousChart)],
              [("smoothing 0.6, full EMA recompute", FullRecomputeChart)]]
    if not args.skip_naive:
        groups.append([("naive concatenate+setData", NaiveChart)])
    results = {}
    for group in groups:
        rows = [(name, kind(0.0) if name.endswith("smoothing off") else kind()) for name, kind in group]
        results.update(measure(rows, args.points, args.updates, app))
        del rows
        gc.collect()
    medians, maxima, cpu_medians = {}, {}, {}
    for name, (wall, cpu) in results.items():
        medians[name], maxima[name], cpu_medians[name] = statistics.median(wall), max(wall), statistics.median(cpu)
        print(summary(name, wall) + f"   CPU median {statistics.median(cpu):6.1f} ms max {max(cpu):6.1f} ms")
    smoothed = "live chart, smoothing 0.6"
    for baseline in ("previous drawing, smoothing 0.6", "smoothing 0.6, full EMA recompute", "naive concatenate+setData"):
        if baseline in medians:
            print(f"{baseline}: {medians[baseline] / medians[smoothed]:.2f}x the live chart's median wall time, "
                  f"{cpu_medians[baseline] / cpu_medians[smoothed]:.2f}x its median CPU time")
    print(f"smoothing 0.6: {medians[smoothed] / medians['live chart, smoothing off']:.2f}x the unsmoothed chart (wall)")
    met = medians[smoothed] < 16 and maxima[smoothed] < 50
    print(f"goal with smoothing 0.6 (median < 16 ms, max < 50 ms wall): {'met' if met else 'NOT met'} "
          f"(CPU median {cpu_medians[smoothed]:.1f} ms); load average now {os.getloadavg()[0]:.1f}")
    if not args.latency_samples:
        return
    lags = latency(args.latency_samples, app)
    if lags:
        print(summary("worker write -> drawn latency", lags))
    else:
        print("worker write -> drawn latency: no points arrived")


if __name__ == "__main__":
    main()
