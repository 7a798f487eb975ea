"""The status bar's run count: "2 running · 3 queued · ends about 03:40", in every view.

It follows the app model (no timer, no store reads): the counts are the runs model's, the same snapshot
the Runs table shows; "(queue held)" while the queue is held; the queue's estimated end as the
queue-end model last read it (`app.model.queue_end`), short, with the whole sentence ("about 03:40
(estimated from earlier runs of the same experiment; run 7 has no earlier completed run ... to measure:
not counted)") in the tooltip. A queue whose end is not estimated (no earlier run to measure) shows the counts alone; its tooltip says why.
Where the status bar is short of room (a narrow window, a long data-home path) the end is cut to "…"
first: the counts always show, and nothing else in the bar is pushed off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize

from app.elided import ElidedLabel
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


class RunStatusLabel(ElidedLabel):
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
        held = runs.held_since is not None
        text, tip = run_status_text(running, queued, held, self.model.queue_end.current)
        counts, _tip = run_status_text(running, queued, held, None)
        self.setMinimumWidth(self._room_for(counts))  # the end is what gets cut
        self.setText(text)
        self.setToolTip(tip)

    def _room_for(self, text: str) -> int:
        """The width that shows `text` whole: its advance, the status bar's padding, and the few pixels
        `elidedText` measures wider than the advance."""
        return self.fontMetrics().horizontalAdvance(text) + self.width() - self.contentsRect().width() + 12

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name: the whole text, padding included
        return QSize(self._room_for(self.text()), super().sizeHint().height())
