"""The run page's Checkpoints, Samples and Events tabs (app/views/run_record_tabs.py), given what
`read_static` read."""

from __future__ import annotations

from datetime import datetime

from app.views.run_detail_reads import CheckpointRow
from app.views.run_record_tabs import CheckpointsTable, SamplesPanel, events_text
from spark_trainer.store.entities import RunEvent


def test_the_events_read_one_status_change_a_line() -> None:
    events = [RunEvent(1, 7, None, "queued", "submitted", datetime(2026, 12, 1, 9, 0, 5)),
              RunEvent(2, 7, "queued", "running", "worker started", datetime(2026, 12, 1, 9, 0, 9))]
    assert events_text(events) == ("2026-12-01 09:00:05  - -> queued: submitted\n"
                                   "2026-12-01 09:00:09  queued -> running: worker started")


def test_a_checkpoint_row_is_picked_by_its_step_and_no_samples_say_how_to_get_some(qtbot) -> None:
    table = CheckpointsTable()
    qtbot.addWidget(table)
    assert table.selected_step() is None
    table.show_rows([CheckpointRow(12, None, 252_109, "/x/step-12", None, True),
                     CheckpointRow(24, 0.5, 2**21, "/x/step-24", "eval_loss", True)])
    assert [table.item(1, c).text() for c in range(4)] == ["24", "0.5000", "2.0 MiB", "/x/step-24"]
    # As `run checkpoints` says it: a LoRA checkpoint of 246 KiB read "0.2 MiB" here.
    assert table.item(0, 2).text() == "246.2 KiB"
    table.selectRow(1)
    assert table.selected_step() == "24"
    samples = SamplesPanel()
    qtbot.addWidget(samples)
    samples.show_samples([])
    assert "No samples yet" in samples.widget().layout().itemAt(0).widget().text()
