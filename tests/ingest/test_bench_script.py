"""The video extraction benchmark runs end to end (tiny size here; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_video_extract.py"


def test_benchmark_script_reports_both_loops_and_the_ratio() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--width", "320", "--height", "180", "--seconds", "3",
                           "--repeats", "1", "--json"], capture_output=True, text=True, timeout=120,
                          cwd=SCRIPT.parents[1])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kept_frames"] == {"naive": 3, "grab_skip": 3}
    assert result["naive_frames_per_s"] > 0 and result["grab_skip_frames_per_s"] > 0
    assert result["ratio_grab_skip_over_naive"] > 0
