"""The Datasets view's Report tab on a dataset with many duplicates, and on a drop whose every row was
rejected (no dataset made): GUI-thread CPU time of showing the report as before (the report turned
into a dict and rows on the GUI thread) and now (made on the pool: with the read of a dataset's
report, in the ingestion task of a failed drop).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_report_view.py [--duplicates 300000]
     [--rejected 300000] [--rounds 5]
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
    parser.add_argument("--rejected", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from app.views.dataset_report import ReportView
    from spark_trainer.ingest.browse import report_rows
    from spark_trainer.ingest.types import IngestReport

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
    _say(f"Report tab, {args.duplicates:,} duplicates", times, args.rounds)

    failed = IngestReport(kind="text")
    for i in range(args.rejected):
        failed.reject("/data/drops/broken.jsonl", i + 1, f"line {i + 1} is not JSON (Expecting value)")
    times = {"before": [], "now": []}
    for _ in range(args.rounds):
        for way in times:
            shown = failed.to_dict() if way == "now" else None  # now: made in the ingestion task, not timed
            rows = report_rows(shown) if shown is not None else None
            began = time.process_time()
            view.show_report(failed.to_dict() if shown is None else shown, "Rejected: broken.jsonl", rows)
            app.processEvents()
            times[way].append(time.process_time() - began)
    _say(f"Report tab of a failed drop, {args.rejected:,} rejected rows", times, args.rounds)


def _say(what: str, times: dict[str, list[float]], rounds: int) -> None:
    before, now = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"{what}, GUI-thread CPU, median of {rounds}:")
    print(f"  rows built on the GUI thread (before) {before * 1000:6.0f} ms")
    print(f"  rows built on the pool (now)          {now * 1000:6.0f} ms   ({before / now:.1f}x less)")


if __name__ == "__main__":
    main()
