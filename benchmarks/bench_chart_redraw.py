"""Chart redraw cost with 4 series x 1,000,000 points plus live appends at 10 Hz, offscreen.

Compares the live chart (`app.charts.LiveChartWidget`: in-place buffers, clip-to-view, peak
downsampling, EMA smoothing extended over new points only) with two baselines in the same process
on the same data: the same chart smoothing every whole series again on each update (the
full-recompute path), and a naive chart that concatenates arrays and calls setData on plain curves.
The goal (issue 16) is under 16 ms median and 50 ms max per update with the app's default
smoothing, 0.6. Then measures the latency from a metric written by a worker process to the store
until it is drawn in the chart (through `MetricFeed`).

Run: .venv/bin/python benchmarks/bench_chart_redraw.py [--points 1000000] [--updates 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
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
    def __init__(self) -> None:
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
    def __init__(self, smoothing: float = 0.0) -> None:
        from app.charts.live_chart import LiveChartWidget

        self.widget = LiveChartWidget("loss")
        self.widget.set_smoothing(smoothing)  # > 0 draws a smoothed and a faint raw curve per series
        self.names = [f"series {i}" for i in range(SERIES)]

    def append(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        self.widget.append(self.names[i], x, x * 0.05, y)

    def refresh(self) -> None:
        self.widget.refresh()


class FullRecomputeChart(LiveChart):
    """The live chart, but each update smooths every whole series again and re-indexes its smoothed
    envelope, as a chart that does not keep the EMA's state would."""

    def append(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        super().append(i, x, y)
        series = self.widget.series(self.names[i])
        weight = series.smoothing
        series.set_smoothing(0.0)
        series.set_smoothing(weight)  # from the first point


def measure(chart, n: int, updates: int, app: QApplication) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds per update (append + redraw + one paint)."""
    chart.widget.resize(1000, 500)
    chart.widget.show()
    for i in range(SERIES):
        steps, _times, values = data(n, i)
        chart.append(i, steps, values)
    chart.refresh()
    render(chart.widget)
    app.processEvents()
    times, cpu = [], []
    next_step = n
    for _ in range(updates):
        tick = time.perf_counter()
        started, cpu_started = time.perf_counter(), time.process_time()
        for i in range(SERIES):
            steps = np.arange(next_step, next_step + APPEND, dtype=float)
            chart.append(i, steps, 0.5 + 0.1 * np.random.standard_normal(APPEND))
        next_step += APPEND
        chart.refresh()
        chart.widget.grab()  # one full offscreen paint of the chart
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        app.processEvents()  # untimed: the window's own pending repaint
        time.sleep(max(0.0, PERIOD_S - (time.perf_counter() - tick)))
    chart.widget.close()
    return times, cpu


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
    parser.add_argument("--latency-samples", type=int, default=15)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    print(f"{SERIES} series x {args.points:,} points, +{APPEND} points per series per update at 10 Hz, "
          f"{args.updates} updates, offscreen ({QApplication.platformName()})")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (CPU ms is this process's own "
          "time, less sensitive to other load)")
    rows = [("live chart, smoothing off", LiveChart(0.0)), ("live chart, smoothing 0.6", LiveChart(0.6)),
            ("smoothing 0.6, full EMA recompute", FullRecomputeChart(0.6)),
            ("naive concatenate+setData", NaiveChart())]
    medians, maxima = {}, {}
    for name, chart in rows:
        wall, cpu = measure(chart, args.points, args.updates, app)
        medians[name], maxima[name] = statistics.median(wall), max(wall)
        print(summary(name, wall) + f"   CPU median {statistics.median(cpu):6.1f} ms max {max(cpu):6.1f} ms")
    naive = medians["naive concatenate+setData"]
    smoothed = medians["live chart, smoothing 0.6"]
    print(f"median speed-up over naive: {naive / medians['live chart, smoothing off']:.1f}x (smoothing off), "
          f"{naive / smoothed:.1f}x (smoothing 0.6)")
    print(f"smoothing 0.6: incremental EMA {smoothed:.1f} ms vs full recompute "
          f"{medians['smoothing 0.6, full EMA recompute']:.1f} ms median "
          f"({medians['smoothing 0.6, full EMA recompute'] / smoothed:.1f}x); "
          f"{smoothed / medians['live chart, smoothing off']:.2f}x the unsmoothed chart")
    met = smoothed < 16 and maxima["live chart, smoothing 0.6"] < 50
    print(f"goal with smoothing 0.6 (median < 16 ms, max < 50 ms): {'met' if met else 'NOT met'}")
    lags = latency(args.latency_samples, app)
    if lags:
        print(summary("worker write -> drawn latency", lags))
    else:
        print("worker write -> drawn latency: no points arrived")


if __name__ == "__main__":
    main()
