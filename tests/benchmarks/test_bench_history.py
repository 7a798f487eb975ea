"""benchmarks/bench_history.py stays runnable: a tiny home generated, every measure reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_history_benchmark_runs_on_a_tiny_home(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_history.py"), "--runs", "30", "--metrics", "9000",
         "--big-run", "5000", "--repeats", "1", "--home", str(tmp_path / "home")],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["runs"] == 31 and report["metric_points"] == 30 * 3 * 100 + 5000
    assert report["chart_points"] == 5000  # the series, the feed and the old read agree (asserted inside)
    for key in ("tick_ms", "tick_gui_ms", "status_refresh_ms", "runs_data_ms", "leaderboard_data_ms",
                "chart_series_ms", "chart_feed_ms", "chart_before_ms"):
        assert report[key] >= 0

    # the two views, as shown and painted, and the same-run comparison with a git commit's views
    gui = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_history.py"), "--gui-only", "--gui-before", "HEAD",
         "--gui-rows", "20", "--repeats", "1", "--home", str(tmp_path / "home")],
        capture_output=True, text=True, env={**env, "QT_QPA_PLATFORM": "offscreen"}, timeout=600, check=False)
    assert gui.returncode == 0, gui.stderr[-3000:]
    report = json.loads(gui.stdout)
    assert report["leaderboard_rows"] == report["before_leaderboard_rows"] == 20
    for key in ("runs_view_open_ms", "runs_view_fill_ms", "tick_gui_runs_view_ms", "status_refresh_gui_ms",
                "leaderboard_view_ms", "leaderboard_table_fill_ms", "before_runs_view_fill_ms",
                "before_tick_gui_runs_view_ms"):
        assert report[key] >= 0
