"""The status bar's run count: "2 running · 3 queued · ends about 03:40", in every view.

It follows the app model (no timer, no store reads): the counts are the runs model's, the same snapshot
the Runs table shows; "(queue held)" while the queue is held; the queue's estimated end as the
queue-end model last read it (`app.model.queue_end`), short, with the whole sentence ("about 03:40
(estimated from earlier runs of the same experiment; run 7 has none: not counted)") in the tooltip. A
queue whose end is not estimated (no earlier run to measure) shows the counts alone; its tooltip says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel

from app.views.queue_hold_bar import HELD_TIP

if TYPE_CHECKING:
    from app.model.app_model import AppModel
    from app.model.reads import QueueEnd


def run_status_text(running: int, queued: int, held: bool, end: QueueEnd | None) -> tuple[str, str]:
    """The label's text and tooltip."""
    text = f"{running} running · {queued} queued" + (" (queue held)" if held else "")
    tips = [HELD_TIP] if held else []
    if queued and end is not None:
        if end.when is not None:
            text += f" · ends {end.when}"
        tips.insert(0, f"The queue's end is {end.text}." if end.when is None else f"The queue should end {end.text}.")
    return text, "\n\n".join(tips)


class RunStatusLabel(QLabel):
    def __init__(self, model: AppModel) -> None:
        super().__init__("")
        self.model = model
        model.runs.runs_updated.connect(self.update_text)
        model.runs.queue_hold_changed.connect(self.update_text)  # "(queue held)"
        model.queue_end.changed.connect(self.update_text)  # "· ends about 03:40"

    def update_text(self, _changed: object = None) -> None:
        runs = self.model.runs
        if not runs.loaded:
            self.setText("Runs: reading…")
            return
        running, queued = runs.counts()
        text, tip = run_status_text(running, queued, runs.held_since is not None, self.model.queue_end.current)
        self.setText(text)
        self.setToolTip(tip)
