"""The Datasets view's Report tab on a dataset with many duplicates: GUI-thread CPU time of showing
the report as before (its rows built on the GUI thread) and now (built on the pool with the read).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_report_view.py [--duplicates 300000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duplicates", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from app.views.dataset_report import ReportView
    from spark_trainer.ingest.browse import report_rows

    report = {"counts": {"accepted": 10, "duplicates": args.duplicates}, "rejected": [], "notes": [],
              "duplicates": [{"source": f"photos/class_{i % 20:02d}/img_{i:07d}.png", "line": None,
                              "duplicate_of": f"photos/class_{i % 20:02d}/img_{i + 1:07d}.png"}
                             for i in range(args.duplicates)]}
    view = ReportView()
    view.resize(900, 600)
    view.show()
    app.processEvents()
    times: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(args.rounds):
        for way in times:
            rows = report_rows(report) if way == "now" else None  # now: built on the pool, not timed
            began = time.process_time()
            view.show_report(report, "bench", rows)
            app.processEvents()
            times[way].append(time.process_time() - began)
    before, now = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"Report tab, {args.duplicates:,} duplicates, GUI-thread CPU, median of {args.rounds}:")
    print(f"  rows built on the GUI thread (before) {before * 1000:6.0f} ms")
    print(f"  rows built on the pool (now)          {now * 1000:6.0f} ms   ({before / now:.1f}x less)")


if __name__ == "__main__":
    main()
