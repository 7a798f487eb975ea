"""Child process of bench_gui_startup.py (first shows): starts the app as `spark-trainer-gui --home HOME
--view projects` does, with a 5 ms timer ticking on the GUI thread from before the window is shown,
then, `settle` seconds after the first view is built, shows each other navigation view in turn (and,
after the Runs list, the newest run's page), `spacing` seconds apart, as a user clicking through
them, and quits.

Prints one line, `RESULT {json}`: the longest gap between timer ticks from the window's first turn of
the event loop until the first visit (`start_gap_ms`: the longest the GUI did not respond while
starting), the seconds from this process's start to the first view built (`first_view_s`), and for
each visited view the gap between ticks around its first show (`stall_ms`: how long the click left
the GUI blocked). It imports the app from wherever PYTHONPATH points, so the same probe times another
checkout (the benchmark's --baseline). It relies only on MainWindow.show_first_view / show_view and
RunsView.open_run, which both old and new checkouts have.

Run: python benchmarks/gui_first_show_probe.py HOME [--settle 3] [--spacing 0.6]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

T0 = time.perf_counter()
NAV = ("projects", "datasets", "experiments", "runs", "leaderboard", "gpus", "settings")
RUN_PAGE = "a run's page"  # opened from the Runs list, right after it


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--spacing", type=float, default=0.6)
    args = parser.parse_args()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    qt_app = QApplication(sys.argv[:1])  # app.main uses this one
    ticks: list[float] = []
    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    ticker.start()
    import app.main_window as main_window
    from app.main import main as app_main

    shows: dict[str, float] = {}  # view name -> when its first show began
    marks: dict[str, float] = {}
    original_show_first = main_window.MainWindow.show_first_view

    def show_first_view(window: main_window.MainWindow, name: str | None = None) -> None:
        original_show_first(window, name)
        marks["first_view"] = time.perf_counter()
        order = [n for n in NAV if n not in window.views]
        order.insert(order.index("runs") + 1, RUN_PAGE)

        def visit(i: int) -> None:
            if i == 0:
                marks["visits"] = time.perf_counter()
            if i == len(order):
                window.close()
                qt_app.quit()
                return
            shows[order[i]] = time.perf_counter()
            if order[i] == RUN_PAGE:  # a double-click on the newest run in the Runs list
                window.show_view("runs").open_run(window.ctx.model.runs.all_runs()[0].id)
            else:
                window.show_view(order[i])
            QTimer.singleShot(int(args.spacing * 1000), lambda: visit(i + 1))

        QTimer.singleShot(int(args.settle * 1000), lambda: visit(0))

    main_window.MainWindow.show_first_view = show_first_view
    code = app_main(["--home", args.home, "--view", "projects"])
    ticker.stop()
    if code != 0 or "visits" not in marks:
        raise SystemExit(f"the app exited with {code} before its views were visited")
    print("RESULT " + json.dumps({
        "first_view_s": marks["first_view"] - T0,
        "start_gap_ms": 1000 * max(b - a for a, b in zip(ticks, ticks[1:], strict=False) if b <= marks["visits"]),
        "stall_ms": {name: 1000 * _gap_around(ticks, at) for name, at in shows.items()},
    }), flush=True)


def _gap_around(ticks: list[float], at: float) -> float:
    """The gap between the last tick before `at` and the first one after it."""
    before = max(t for t in ticks if t <= at)
    return min(t for t in ticks if t > at) - before


if __name__ == "__main__":
    main()
