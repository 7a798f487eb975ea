"""The Log tab shows a worker's log as text: transformers' colour codes came through as boxes around
'[1m...[0m', and every tqdm redraw (carriage returns) as a line of its own."""

from __future__ import annotations

from pathlib import Path

from app.model.reads import read_log


def test_colour_codes_and_progress_redraws_are_cleaned(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_bytes(b"[2026-11-30 12:35:18] run 2 running on CPU\n"
                    b"Loading weights:   0%|          | 0/41\rLoading weights: 100%|##########| 41/41\n"
                    b"[transformers] \x1b[1mBertForSequenceClassification LOAD REPORT\x1b[0m from: /m\n"
                    b"\x1b[31mred\x1b[0m and plain\r\n")
    chunk = read_log(2, log, 0)
    assert chunk is not None
    assert chunk.text.splitlines() == [
        "[2026-11-30 12:35:18] run 2 running on CPU",
        "Loading weights: 100%|##########| 41/41",
        "[transformers] BertForSequenceClassification LOAD REPORT from: /m",
        "red and plain",
    ]
    assert chunk.new_offset == log.stat().st_size  # offsets stay in bytes of the file
