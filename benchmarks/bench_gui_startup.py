"""GUI start-up: time from process start to the first shown main window, and GUI-thread stalls
during an ingestion of a few hundred files.

1. Start-up. Each sample starts a fresh `python -m app.main --exit-when-shown` on a data home with a
   few projects and datasets, and measures from just before the process is spawned to the moment
   the window is shown (the child prints time.time() from the first event-loop turn after show()).
   The same is measured for a bare PySide6 + pyqtgraph window (the floor any Qt app pays), and the
   ratio is reported. Goals: under 1.5 s, and within 1.3x the bare window (issue 16). Each
   process's own CPU time until its window is shown (user + system) is reported too: on a machine
   loaded by other work it varies less than the wall-clock time.
2. First shows. Each sample starts the app for real (benchmarks/gui_first_show_probe.py) with a 5 ms
   timer ticking on the GUI thread; `--settle` seconds after its first view (Projects) is built, it
   shows every other navigation view in turn, as a user clicking through them. Reported: the longest
   gap between ticks while starting (until the first click), and per view the gap around its first
   show (the click's stall), medians over the samples. With --baseline, the other checkout is timed
   in turns with this one and each figure is given as baseline / this.
3. Responsiveness. In one process, a 10 ms QTimer ticks while the Datasets view ingests N image
   files off the GUI thread; the longest gap between ticks is the longest the GUI was blocked.
   Goal: under 100 ms.

Bytecode is cached (in a scratch folder) as an installed app's is: with PYTHONDONTWRITEBYTECODE set,
every start would compile the app's sources again.

Run: .venv/bin/python benchmarks/bench_gui_startup.py [--runs 7] [--files 300] [--settle 3]
     [--baseline CHECKOUT] [--skip-first-shows] [--skip-ingest]
"""

from __future__ import annotations

import argparse
import json
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
    env = {**os.environ, "XDG_CONFIG_HOME": str(scratch / "config"), "PYTHONUNBUFFERED": "1",
           "PYTHONPYCACHEPREFIX": str(scratch / "pycache")}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.pop("SPARK_TRAINER_HOME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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
    from tests.app.gui_assets import add_experiment_with_runs, write_image_folder, write_text_dataset

    with Store.open(home) as store:
        for name in ("support-bot", "shapes", "notes"):
            projects.create(store, name)
        ingest_paths(store, [write_text_dataset(scratch / "support", 200, 3)], project="support-bot")
        ingest_paths(store, [write_image_folder(scratch / "img", per_class=20)], project="shapes")
        add_experiment_with_runs(store, "support-bot", statuses=("completed", "failed", "completed"))


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
    for i in range(runs):  # interleaved, the order reversed every other round, so machine load affects all alike
        for kind, cmd, cmd_env, cwd in (kinds if i % 2 == 0 else kinds[::-1]):
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


def _first_shows_once(env: dict[str, str], home: Path, settle: float, cwd: Path) -> dict:
    probe = [sys.executable, str(ROOT / "benchmarks" / "gui_first_show_probe.py"), str(home), "--settle", str(settle)]
    proc = subprocess.run(probe, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"first-show probe failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def first_shows(runs: int, settle: float, baseline: Path | None = None) -> dict[str, dict]:
    """Per checkout ("app", and "baseline" if given): the medians of the start's longest event-loop gap,
    the time to the first view, and each view's first-show stall (gui_first_show_probe.py)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-gui-shows-"))
    home = scratch / "home"
    _fill_home(home, scratch)
    env = _env(scratch)
    kinds = [("app", {**env, "PYTHONPATH": str(ROOT)}, ROOT)]
    if baseline is not None:
        kinds.append(("baseline", {**env, "PYTHONPATH": str(baseline)}, baseline))
    for _kind, kind_env, cwd in kinds:
        _first_shows_once(kind_env, home, 0.5, cwd)  # compiles and caches each checkout's bytecode
    samples: dict[str, list[dict]] = {kind: [] for kind, *_ in kinds}
    for i in range(runs):  # in turns, each first every other round, so machine load falls on both alike
        for kind, kind_env, cwd in (kinds if i % 2 == 0 else kinds[::-1]):
            samples[kind].append(_first_shows_once(kind_env, home, settle, cwd))
    result = {}
    for kind, got in samples.items():
        views = list(got[0]["stall_ms"])
        result[kind] = {"start_gap_ms": statistics.median(g["start_gap_ms"] for g in got),
                        "first_view_s": statistics.median(g["first_view_s"] for g in got),
                        "max_stall_ms": statistics.median(max(g["stall_ms"].values()) for g in got),
                        "stall_ms": {v: statistics.median(g["stall_ms"][v] for g in got) for v in views}}
    return result


def _print_first_shows(shows: dict[str, dict], runs: int, settle: float) -> None:
    app, base = shows["app"], shows.get("baseline")
    print(f"first shows ({runs} starts; views clicked in turn {settle:g} s after the first view, 0.6 s apart; "
          "medians; GUI-thread stall = gap between 5 ms timer ticks around the click)"
          + ("; ratio = baseline / this" if base else ""))
    rows = [("longest gap while starting", "start_gap_ms", "ms"), ("start to first view", "first_view_s", "s"),
            ("longest first-show stall", "max_stall_ms", "ms")]
    for title, key, unit in rows:
        line = f"  {title:32s} this {app[key]:8.{0 if unit == 'ms' else 2}f} {unit}"
        if base:
            line += f"   baseline {base[key]:8.{0 if unit == 'ms' else 2}f} {unit}   ratio {base[key] / app[key]:.2f}x"
        print(line)
    for view, stall in app["stall_ms"].items():
        line = f"  first show of {view:18s} this {stall:8.0f} ms"
        if base:
            line += f"   baseline {base['stall_ms'][view]:8.0f} ms   ratio {base['stall_ms'][view] / stall:.2f}x"
        print(line)


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


def _print_startup(s: dict[str, float], runs: int, baseline: Path | None) -> None:
    print(f"start-up to first window: median {s['app_median_s']:.3f} s (max {s['app_max_s']:.3f} s) over "
          f"{runs} runs; bare PySide6+pyqtgraph window {s['bare_median_s']:.3f} s; ratio {s['ratio']:.2f}x; "
          f"goals < 1.5 s: {'met' if s['app_median_s'] < 1.5 else 'NOT met'}, <= 1.3x the bare window: "
          f"{'met' if s['ratio'] <= 1.3 else 'NOT met'}")
    print(f"start-up to the first view built and filled (Projects, once the store is open): median "
          f"{s['view_median_s']:.3f} s; ratio {s['view_ratio']:.2f}x the bare window")
    print(f"process CPU time until the window was shown (user+system): app {s['app_cpu_s']:.3f} s, bare window "
          f"{s['bare_cpu_s']:.3f} s; ratio {s['cpu_ratio']:.2f}x; load average {os.getloadavg()[0]:.1f} at the end")
    if baseline is not None:
        print(f"baseline {baseline}: first window {s['baseline_median_s']:.3f} s "
              f"({s['baseline_median_s'] / s['bare_median_s']:.2f}x the bare window), first view "
              f"{s['baseline_view_s']:.3f} s ({s['baseline_view_s'] / s['bare_median_s']:.2f}x), CPU until shown "
              f"{s['baseline_cpu_s']:.3f} s ({s['baseline_cpu_s'] / s['bare_cpu_s']:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--skip-ingest", action="store_true", help="do not measure the GUI during an ingestion")
    parser.add_argument("--skip-startup", action="store_true", help="do not time the start to the first window")
    parser.add_argument("--skip-first-shows", action="store_true", help="do not measure the views' first shows")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds after the first view before the views are clicked through (first shows)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="another checkout of the app (e.g. a worktree of main) to time alongside, interleaved")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    if not args.skip_startup:
        _print_startup(startup(args.runs, args.baseline), args.runs, args.baseline)
    if not args.skip_first_shows:
        _print_first_shows(first_shows(args.runs, args.settle, args.baseline), args.runs, args.settle)
    if args.skip_ingest:
        return
    r = responsiveness(args.files)
    print(f"ingesting {r['files']} images took {r['ingest_s']:.2f} s; GUI timer ticks: {r['ticks']}; longest gap "
          f"{r['max_gap_ms']:.0f} ms (p99 {r['p99_gap_ms']:.0f} ms); goal < 100 ms: "
          f"{'met' if r['max_gap_ms'] < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
