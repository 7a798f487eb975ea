"""What `train` says about a dataset it ingests on the way."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.cli.train import ingest_lines
from spark_trainer.ingest.types import IngestReport


def test_an_image_folder_reports_files_rejected_and_what_was_left_out(tmp_path: Path) -> None:
    report = IngestReport(kind="image")
    report.reject("pets/cat/zero.jpg", None, "empty file (0 bytes)")
    report.notes.append("left out 2 hidden or system entries (not data): .DS_Store, Thumbs.db")
    assert ingest_lines("pets", report, tmp_path) == [
        "dataset 'pets': 1 file rejected",
        "  rejected pets/cat/zero.jpg: empty file (0 bytes)",
        "dataset 'pets': note: left out 2 hidden or system entries (not data): .DS_Store, Thumbs.db"]


def test_a_text_file_reports_lines_rejected(tmp_path: Path) -> None:
    report = IngestReport(kind="text")
    report.reject("rows.jsonl", 11, "invalid JSON: Expecting value (column 1)")
    assert ingest_lines("rows", report, tmp_path)[0] == "dataset 'rows': 1 line rejected"
