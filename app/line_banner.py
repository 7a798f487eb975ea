"""A message banner of one line, for a row it shares with other widgets (a page's title row)."""

from __future__ import annotations

from PySide6.QtWidgets import QSizePolicy, QWidget

from app.widgets import ElidedLabel, MessageBanner


class LineBanner(ElidedLabel, MessageBanner):
    """A `MessageBanner` that never wraps and holds its room while hidden, so nothing around it moves
    as messages come and go: a longer message ends in "…", whole in its tooltip (and in `text()`).

    The run page puts it in its title row, beside the status badge: as a line above the tabs it moved
    the tabs and every chart down when a run's error or "Cancel requested…" showed, and holding a line's
    room there would have cost every run page 38 px of chart height (a tenth of it in a 1024 x 640 window).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.keep_room()
