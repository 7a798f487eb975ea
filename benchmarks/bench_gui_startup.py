"""GUI start-up: time from process start to the first shown main window, and GUI-thread stalls
during an ingestion of a few hundred files.

1. Start-up. Each sample starts a fresh `python -m app.main --exit-when-shown` on a data home with a
   few projects and datasets, and measures from just before the process is spawned to the moment
   the window is shown (the child prints time.time() from the first event-loop turn after show()).
   The same is measured for a bare PySide6 + pyqtgraph window (the floor any Qt app pays), and the
   ratio is reported. Goals: under 1.5 s, and within 1.3x the bare window (issue 16). Each
   process's own CPU time until its window is shown (user + system) is reported too: on a machine
   loaded by other work it varies less than the wall-clock time.
2. Responsiveness. In one process, a 10 ms QTimer ticks while the Datasets view ingests N image
   files off the GUI thread; the longest gap between ticks is the longest the GUI was blocked.
   Goal: under 100 ms.

Run: .venv/bin/python benchmarks/bench_gui_startup.py [--runs 7] [--files 300]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARE = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg
app = QApplication(sys.argv[:1])
win = QMainWindow()
win.setCentralWidget(pg.PlotWidget())
win.resize(1280, 800)
win.show()
QTimer.singleShot(0, lambda: (print(f"shown_at={time.time():.6f}\\nshown_cpu={time.process_time():.6f}", flush=True),
                              app.quit()))
app.exec()
"""


def _env(scratch: Path) -> dict[str, str]:
    # A private config dir: the benchmark must not touch (or depend on) the user's window layout.
    env = {**os.environ, "XDG_CONFIG_HOME": str(scratch / "config"), "PYTHONUNBUFFERED": "1"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.pop("SPARK_TRAINER_HOME", None)
    return env


def _shown_after(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, float]:
    """Seconds from spawn to the first shown window and to its first view built and filled (the
    app builds the view on the event-loop turn after showing the window; a bare window has none),
    and the process's own CPU time until its window was shown."""
    start = time.time()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    stamps = dict(x.split("=", 1) for x in proc.stdout.splitlines()
                  if x.startswith(("shown_at=", "view_at=", "shown_cpu=")))
    if proc.returncode != 0 or "shown_at" not in stamps:
        raise RuntimeError(f"{command[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    shown = float(stamps["shown_at"]) - start
    return shown, float(stamps.get("view_at", stamps["shown_at"])) - start, float(stamps["shown_cpu"])


def _fill_home(home: Path, scratch: Path) -> None:
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store
    from tests.app.gui_assets import write_image_folder, write_text_dataset

    with Store.open(home) as store:
        for name in ("support-bot", "shapes", "notes"):
            projects.create(store, name)
        ingest_paths(store, [write_text_dataset(scratch / "support", 200, 3)], project="support-bot")
        ingest_paths(store, [write_image_folder(scratch / "img", per_class=20)], project="shapes")


def startup(runs: int, baseline: Path | None = None) -> dict[str, float]:
    """With `baseline` (another checkout of the app), its start-up is measured too, interleaved."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    home = scratch / "home"
    _fill_home(home, scratch)
    env = _env(scratch)
    app_cmd = [sys.executable, "-m", "app.main", "--home", str(home), "--view", "projects", "--exit-when-shown"]
    bare_cmd = [sys.executable, "-c", BARE]
    kinds = [("app", app_cmd, env, ROOT), ("bare", bare_cmd, env, ROOT)]
    if baseline is not None:
        kinds.append(("baseline", app_cmd, {**env, "PYTHONPATH": str(baseline)}, baseline))
    for _kind, cmd, cmd_env, cwd in kinds:
        _shown_after(cmd, cmd_env, cwd)  # warm the OS file cache for each, as a second launch would be
    shown: dict[str, list[float]] = {kind: [] for kind, *_ in kinds}
    views: dict[str, list[float]] = {kind: [] for kind, *_ in kinds}
    cpus: dict[str, list[float]] = {kind: [] for kind, *_ in kinds}
    for _ in range(runs):  # interleaved, so machine load affects all alike
        for kind, cmd, cmd_env, cwd in kinds:
            wall, view, used = _shown_after(cmd, cmd_env, cwd)
            shown[kind].append(wall)
            views[kind].append(view)
            cpus[kind].append(used)
    app_times, bare_times, app_cpu, bare_cpu, app_view = (shown["app"], shown["bare"], cpus["app"], cpus["bare"],
                                                          views["app"])
    extra = {}
    if baseline is not None:
        extra = {"baseline_median_s": statistics.median(shown["baseline"]),
                 "baseline_view_s": statistics.median(views["baseline"]),
                 "baseline_cpu_s": statistics.median(cpus["baseline"])}
    return {**extra, "app_median_s": statistics.median(app_times), "app_max_s": max(app_times),
            "bare_median_s": statistics.median(bare_times),
            "ratio": statistics.median(app_times) / statistics.median(bare_times),
            "view_median_s": statistics.median(app_view),
            "view_ratio": statistics.median(app_view) / statistics.median(bare_times),
            "app_cpu_s": statistics.median(app_cpu), "bare_cpu_s": statistics.median(bare_cpu),
            "cpu_ratio": statistics.median(app_cpu) / statistics.median(bare_cpu)}


def responsiveness(files: int) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app.context import AppContext
    from app.theme import use_fusion
    from app.views.datasets_view import DatasetsView
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store
    from tests.app.gui_assets import write_image_folder

    app = QApplication.instance() or QApplication([])
    use_fusion(app)
    scratch = Path(tempfile.mkdtemp(prefix="bench-gui-ingest-"))
    folder = write_image_folder(scratch / "many", per_class=files // 2, size=(64, 64))
    store = Store.open(scratch / "home")
    projects.create(store, "bench")
    ctx = AppContext(store, QSettings(str(scratch / "gui.ini"), QSettings.Format.IniFormat), poll_gpus=False)
    view = DatasetsView(store, ctx)
    view.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    task = view.ingest([folder])
    while not task.delivered:
        app.processEvents()
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    ctx.shutdown()
    store.close()
    return {"files": files, "ingest_s": elapsed, "ticks": len(ticks), "max_gap_ms": max(gaps) * 1000,
            "p99_gap_ms": sorted(gaps)[int(len(gaps) * 0.99)] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--skip-ingest", action="store_true", help="only measure start-up")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="another checkout of the app (e.g. a worktree of main) to time alongside, interleaved")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    s = startup(args.runs, args.baseline)
    print(f"start-up to first window: median {s['app_median_s']:.3f} s (max {s['app_max_s']:.3f} s) over "
          f"{args.runs} runs; bare PySide6+pyqtgraph window {s['bare_median_s']:.3f} s; ratio {s['ratio']:.2f}x; "
          f"goals < 1.5 s: {'met' if s['app_median_s'] < 1.5 else 'NOT met'}, <= 1.3x the bare window: "
          f"{'met' if s['ratio'] <= 1.3 else 'NOT met'}")
    print(f"start-up to the first view built and filled (Projects, once the store is open): median "
          f"{s['view_median_s']:.3f} s; ratio {s['view_ratio']:.2f}x the bare window")
    print(f"process CPU time until the window was shown (user+system): app {s['app_cpu_s']:.3f} s, bare window "
          f"{s['bare_cpu_s']:.3f} s; ratio {s['cpu_ratio']:.2f}x; load average {os.getloadavg()[0]:.1f} at the end")
    if args.baseline is not None:
        print(f"baseline {args.baseline}: first window {s['baseline_median_s']:.3f} s "
              f"({s['baseline_median_s'] / s['bare_median_s']:.2f}x the bare window), first view "
              f"{s['baseline_view_s']:.3f} s ({s['baseline_view_s'] / s['bare_median_s']:.2f}x), CPU until shown "
              f"{s['baseline_cpu_s']:.3f} s ({s['baseline_cpu_s'] / s['bare_cpu_s']:.2f}x)")
    if args.skip_ingest:
        return
    r = responsiveness(args.files)
    print(f"ingesting {r['files']} images took {r['ingest_s']:.2f} s; GUI timer ticks: {r['ticks']}; longest gap "
          f"{r['max_gap_ms']:.0f} ms (p99 {r['p99_gap_ms']:.0f} ms); goal < 100 ms: "
          f"{'met' if r['max_gap_ms'] < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
